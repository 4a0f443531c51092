// sluicectl: an antctl-like CLI for Sluice (see docs/sluicectl.md).
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "sluicectl/cli.h"
#include "sluicectl/commands.h"

extern char** environ;

int main(int argc, char** argv) {
  std::vector<std::string> arguments(argv + 1, argv + argc);
  std::map<std::string, std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text(*entry);
    const auto equals = text.find('=');
    if (equals != std::string::npos) environment[text.substr(0, equals)] = text.substr(equals + 1);
  }
  auto invocation = sluice::sluicectl::parseArguments(arguments, environment);
  if (!invocation) {
    std::cerr << "sluicectl: " << invocation.error().message << "\n";
    return 2;
  }
  auto output = sluice::sluicectl::run(*invocation);
  if (!output) {
    std::cerr << "sluicectl: " << output.error().message << "\n";
    return 1;
  }
  std::cout << *output;
  return 0;
}
