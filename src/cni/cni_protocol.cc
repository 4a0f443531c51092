// CNI request parsing and result/error rendering (CNI spec 1.0.0; STATUS and GC from 1.1.0).
#include "cni/cni_protocol.h"

#include <algorithm>
#include <cstdint>

namespace sluice::cni {
namespace {

using nlohmann::json;

std::string joinedVersions() {
  std::string joined;
  for (const auto& version : supportedVersions()) joined += (joined.empty() ? "" : ", ") + version;
  return joined;
}

std::optional<Command> parseCommand(const std::string& text) {
  static const std::map<std::string, Command> kCommands = {
      {"ADD", Command::kAdd},         {"DEL", Command::kDel},       {"CHECK", Command::kCheck},
      {"VERSION", Command::kVersion}, {"STATUS", Command::kStatus}, {"GC", Command::kGc}};
  auto it = kCommands.find(text);
  if (it == kCommands.end()) return std::nullopt;
  return it->second;
}

std::string lookup(const std::map<std::string, std::string>& environment, const std::string& key) {
  auto it = environment.find(key);
  return it == environment.end() ? std::string() : it->second;
}

CniError environmentError(std::string message, std::string details) {
  return CniError{ErrorCode::kInvalidEnvironment, std::move(message), std::move(details)};
}

CniError configError(std::string message, std::string details) {
  return CniError{ErrorCode::kInvalidNetworkConfig, std::move(message), std::move(details)};
}

bool validContainerId(const std::string& id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// Linux interface names: 1-15 bytes, no '/', ':' or whitespace, not "." or "..".
bool validIfName(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c));
  });
}

// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
bool validUtf8(const std::string& text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t codePoint = 0;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if ((byte & 0xE0) == 0xC0) {
      length = 2, codePoint = byte & 0x1Fu;
    } else if ((byte & 0xF0) == 0xE0) {
      length = 3, codePoint = byte & 0x0Fu;
    } else if ((byte & 0xF8) == 0xF0) {
      length = 4, codePoint = byte & 0x07u;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      codePoint = (codePoint << 6) | (next & 0x3Fu);
    }
    static constexpr std::uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (codePoint < kSmallest[length] || codePoint > 0x10FFFF ||
        (codePoint >= 0xD800 && codePoint <= 0xDFFF))
      return false;
    i += length;
  }
  return true;
}

bool isLegacy(const std::string& version) { return version.rfind("0.", 0) == 0; }

}  // namespace

std::string toWire(const nlohmann::json& document) {
  return document.dump(-1, ' ', false, json::error_handler_t::replace);
}

const std::vector<std::string>& supportedVersions() {
  static const std::vector<std::string> kVersions = {"0.3.0", "0.3.1", "0.4.0", "1.0.0"};
  return kVersions;
}

std::string Request::podNamespace() const {
  auto it = args.find("K8S_POD_NAMESPACE");
  return it == args.end() ? std::string() : it->second;
}
std::string Request::podName() const {
  auto it = args.find("K8S_POD_NAME");
  return it == args.end() ? std::string() : it->second;
}
std::string Request::podUid() const {
  auto it = args.find("K8S_POD_UID");
  return it == args.end() ? std::string() : it->second;
}

std::variant<std::map<std::string, std::string>, CniError> parseCniArgs(const std::string& text) {
  std::map<std::string, std::string> args;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find(';', start), text.size());
    const auto pair = text.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    const auto equals = pair.find('=');
    if (equals == std::string::npos || equals == 0)
      return environmentError("CNI_ARGS holds a malformed pair \"" + pair + "\"",
                              "CNI_ARGS must be KEY=VALUE pairs separated by ';'");
    args[pair.substr(0, equals)] = pair.substr(equals + 1);
  }
  return args;
}

std::variant<Request, CniError> parseRequest(const std::map<std::string, std::string>& environment,
                                             const std::string& stdinText) {
  Request request;
  // Every value we read ends up in JSON (the agent request, errors), and JSON text is UTF-8:
  // reject other bytes here, naming the variable, instead of failing to serialize later.
  for (const auto& [key, value] : environment)
    if (key.starts_with("CNI_") && !validUtf8(value))
      return environmentError(key + " is not valid UTF-8",
                              "the runtime must pass " + key + " as UTF-8 text");
  const auto commandText = lookup(environment, "CNI_COMMAND");
  if (commandText.empty())
    return environmentError("CNI_COMMAND is not set",
                            "set CNI_COMMAND to ADD, DEL, CHECK, VERSION, STATUS or GC");
  const auto command = parseCommand(commandText);
  if (!command)
    return environmentError("CNI_COMMAND \"" + commandText + "\" is not a CNI command",
                            "set CNI_COMMAND to ADD, DEL, CHECK, VERSION, STATUS or GC");
  request.command = *command;

  json config;
  if (!stdinText.empty() || request.command != Command::kVersion) {
    try {
      config = json::parse(stdinText);
    } catch (const json::exception& error) {  // parse_error, or out_of_range for a huge number
      return CniError{ErrorCode::kDecodeFailure, "the network config on stdin is not valid JSON",
                      error.what()};
    }
    if (!config.is_object())
      return CniError{ErrorCode::kDecodeFailure, "the network config on stdin is not a JSON object",
                      "the runtime must pass the plugin's network config as a JSON object"};
  }
  if (config.is_null()) config = json::object();  // VERSION with an empty stdin
  if (config.contains("cniVersion") && !config["cniVersion"].is_string())
    return configError("network config field cniVersion must be a string", "e.g. \"1.0.0\"");
  request.cniVersion = config.value("cniVersion", std::string());
  if (request.command == Command::kVersion) {
    request.config = std::move(config);
    return request;
  }

  if (request.cniVersion.empty())
    return configError("network config has no cniVersion", "add \"cniVersion\": \"1.0.0\"");
  const auto& versions = supportedVersions();
  const bool speaks11 = request.command == Command::kStatus || request.command == Command::kGc;
  if (std::find(versions.begin(), versions.end(), request.cniVersion) == versions.end() &&
      !(speaks11 && request.cniVersion == "1.1.0"))
    return CniError{ErrorCode::kIncompatibleVersion,
                    "incompatible CNI version " + request.cniVersion,
                    "sluice-cni supports " + joinedVersions() + ", and 1.1.0 for STATUS and GC"};
  for (const char* field : {"name", "type"}) {
    if (!config.contains(field) || !config[field].is_string() ||
        config[field].get<std::string>().empty())
      return configError(
          std::string("network config field ") + field + " is missing or not a string",
          std::string("set \"") + field + "\" in the conflist");
  }
  if (config.contains("agentSocket") && !config["agentSocket"].is_string())
    return configError("network config field agentSocket must be a string",
                       "set it to the agent's socket path, e.g. /var/run/sluice/cni.sock");
  request.networkName = config["name"].get<std::string>();
  if (config.contains("prevResult")) request.prevResult = config["prevResult"];

  if (request.command == Command::kStatus || request.command == Command::kGc) {
    request.config = std::move(config);
    return request;
  }

  request.containerId = lookup(environment, "CNI_CONTAINERID");
  request.netns = lookup(environment, "CNI_NETNS");
  request.ifName = lookup(environment, "CNI_IFNAME");
  if (!validContainerId(request.containerId))
    return environmentError("CNI_CONTAINERID \"" + request.containerId + "\" is missing or invalid",
                            "it must be non-empty and hold only letters, digits, '_', '.' and '-'");
  if (!validIfName(request.ifName))
    return environmentError("CNI_IFNAME \"" + request.ifName + "\" is missing or invalid",
                            "use a Linux interface name of 1 to 15 characters, e.g. eth0");
  if (request.netns.empty() && request.command != Command::kDel)
    return environmentError("CNI_NETNS is not set",
                            "ADD and CHECK need the path of the container's network namespace");
  auto args = parseCniArgs(lookup(environment, "CNI_ARGS"));
  if (auto* error = std::get_if<CniError>(&args)) return *error;
  request.args = std::get<std::map<std::string, std::string>>(std::move(args));
  request.config = std::move(config);
  return request;
}

nlohmann::json renderResult(const AddResult& result, const std::string& cniVersion) {
  json out = {{"cniVersion", cniVersion},
              {"interfaces", json::array()},
              {"ips", json::array()},
              {"routes", json::array()},
              {"dns", json::object()}};
  for (const auto& interface : result.interfaces) {
    json entry = {{"name", interface.name}, {"mac", interface.mac}};
    if (!interface.sandbox.empty()) entry["sandbox"] = interface.sandbox;
    out["interfaces"].push_back(std::move(entry));
  }
  for (const auto& ip : result.ips) {
    json entry = {{"address", ip.address}, {"interface", ip.interfaceIndex}};
    if (!ip.gateway.empty()) entry["gateway"] = ip.gateway;
    if (isLegacy(cniVersion)) entry["version"] = "4";
    out["ips"].push_back(std::move(entry));
  }
  for (const auto& route : result.routes) {
    json entry = {{"dst", route.destination}};
    if (!route.gateway.empty()) entry["gw"] = route.gateway;
    out["routes"].push_back(std::move(entry));
  }
  return out;
}

nlohmann::json renderError(const CniError& error, const std::string& cniVersion) {
  const auto& versions = supportedVersions();
  const bool known = std::find(versions.begin(), versions.end(), cniVersion) != versions.end() ||
                     cniVersion == "1.1.0";
  return json{{"cniVersion", known ? cniVersion : versions.back()},
              {"code", static_cast<int>(error.code)},
              {"msg", error.message},
              {"details", error.details}};
}

nlohmann::json renderVersion(const std::string& cniVersion) {
  const auto& versions = supportedVersions();
  const bool known = std::find(versions.begin(), versions.end(), cniVersion) != versions.end();
  return json{{"cniVersion", known ? cniVersion : versions.back()},
              {"supportedVersions", versions}};
}

}  // namespace sluice::cni
