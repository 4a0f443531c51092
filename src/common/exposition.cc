// A line-by-line reader of the text exposition format: comments, then `name{labels} value [ts]`.
#include "common/exposition.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace sluice::exposition {
namespace {

bool isNameChar(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

std::size_t skipSpaces(std::string_view line, std::size_t at) {
  while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
  return at;
}

bool includes(const Labels& labels, const Labels& wanted) {
  for (const auto& [key, value] : wanted) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

// Parses `{a="x",b="y"}` starting at `at` (which points at '{'); returns the index after '}'.
Result<std::size_t> parseLabels(std::string_view line, std::size_t at, Labels& labels) {
  ++at;
  while (true) {
    at = skipSpaces(line, at);
    if (at < line.size() && line[at] == '}') return at + 1;
    const auto nameStart = at;
    while (at < line.size() && isNameChar(line[at], at == nameStart)) ++at;
    if (at == nameStart) return makeError("expected a label name");
    std::string name(line.substr(nameStart, at - nameStart));
    at = skipSpaces(line, at);
    if (at + 1 >= line.size() || line[at] != '=' || line[at + 1] != '"')
      return makeError("expected =\" after label " + name);
    at += 2;
    std::string value;
    for (;; ++at) {
      if (at >= line.size()) return makeError("unterminated value of label " + name);
      const char c = line[at];
      if (c == '"') break;
      if (c == '\\' && at + 1 < line.size()) {
        const char escaped = line[++at];
        value += escaped == 'n' ? '\n' : escaped;
      } else {
        value += c;
      }
    }
    labels[name] = std::move(value);
    at = skipSpaces(line, at + 1);
    if (at < line.size() && line[at] == ',') ++at;
  }
}

Result<Sample> parseSample(std::string_view line) {
  Sample sample;
  std::size_t at = 0;
  while (at < line.size() && isNameChar(line[at], at == 0)) ++at;
  if (at == 0) return makeError("expected a metric name");
  sample.name = std::string(line.substr(0, at));
  if (at < line.size() && line[at] == '{') {
    auto end = parseLabels(line, at, sample.labels);
    if (!end) return end.error();
    at = *end;
  }
  at = skipSpaces(line, at);
  const auto valueEnd = line.find_first_of(" \t", at);
  const std::string valueText(
      line.substr(at, valueEnd == std::string_view::npos ? std::string_view::npos : valueEnd - at));
  if (valueText.empty()) return makeError("no value for " + sample.name);
  // strtod reads "NaN", "+Inf" and "-Inf", the format's special values.
  char* parsedEnd = nullptr;
  errno = 0;
  sample.value = std::strtod(valueText.c_str(), &parsedEnd);
  if (parsedEnd != valueText.c_str() + valueText.size() || errno == ERANGE)
    return makeError("value \"" + valueText + "\" of " + sample.name + " is not a number");
  return sample;
}

}  // namespace

std::optional<double> Exposition::value(std::string_view name, const Labels& labels) const {
  for (const auto& sample : samples)
    if (sample.name == name && includes(sample.labels, labels)) return sample.value;
  return std::nullopt;
}

double Exposition::sum(std::string_view name, const Labels& labels) const {
  double total = 0;
  for (const auto& sample : samples)
    if (sample.name == name && includes(sample.labels, labels)) total += sample.value;
  return total;
}

Result<Exposition> parseExposition(std::string_view text) {
  Exposition exposition;
  std::size_t lineNumber = 0;
  while (!text.empty()) {
    ++lineNumber;
    const auto newline = text.find('\n');
    auto line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto start = skipSpaces(line, 0);
    line = line.substr(start);
    if (line.empty()) continue;
    if (line.front() == '#') {
      // "# TYPE name type": kept, so callers can check a counter is a counter. HELP is skipped.
      constexpr std::string_view kType = "# TYPE ";
      if (line.starts_with(kType)) {
        const auto rest = line.substr(kType.size());
        const auto space = rest.find(' ');
        const auto type = rest.find_first_not_of(' ', space);
        if (space != std::string_view::npos && type != std::string_view::npos)
          exposition.types[std::string(rest.substr(0, space))] = std::string(rest.substr(type));
      }
      continue;
    }
    auto sample = parseSample(line);
    if (!sample)
      return makeError("metrics line " + std::to_string(lineNumber) + ": " +
                       sample.error().message + " in \"" + std::string(line) + "\"");
    exposition.samples.push_back(std::move(*sample));
  }
  return exposition;
}

}  // namespace sluice::exposition
