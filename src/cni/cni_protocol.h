// The CNI side of sluice-cni: parsing a runtime's request (environment + stdin) and writing
// results and errors as the CNI spec (1.0.0, plus STATUS and GC of 1.1) defines them.
// Pure: no I/O, so every malformed input is unit-tested.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace sluice::cni {

// Error codes from the CNI spec ("Error" section); 50+ are 1.1's STATUS codes.
enum class ErrorCode : int {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kContainerUnknown = 3,
  kInvalidEnvironment = 4,
  kIoFailure = 5,
  kDecodeFailure = 6,
  kInvalidNetworkConfig = 7,
  kTryAgainLater = 11,
  kPluginNotAvailable = 50,
  kLimitedConnectivity = 51,
};

struct CniError {
  ErrorCode code = ErrorCode::kIoFailure;
  std::string message;  // "msg": one line a person reads
  std::string details;  // "details": what to check or change
};

enum class Command { kAdd, kDel, kCheck, kVersion, kStatus, kGc };

// The versions whose configs and results we speak. Results are produced in 1.0.0 and converted.
const std::vector<std::string>& supportedVersions();

struct Request {
  Command command = Command::kVersion;
  std::string cniVersion;
  std::string networkName;
  std::string containerId;
  std::string netns;  // may be empty for DEL (the spec allows it)
  std::string ifName;
  std::map<std::string, std::string> args;  // CNI_ARGS, e.g. K8S_POD_NAMESPACE
  nlohmann::json config;                    // the whole plugin config, as received
  nlohmann::json prevResult;                // null unless present

  std::string podNamespace() const;
  std::string podName() const;
  std::string podUid() const;
};

// Parses CNI_* variables and the stdin config. VERSION needs no config; DEL tolerates a missing
// netns; everything else is strict. Errors carry the CNI code to return.
std::variant<Request, CniError> parseRequest(const std::map<std::string, std::string>& environment,
                                             const std::string& stdinText);

// CNI_ARGS: "K1=V1;K2=V2". Malformed pairs are an error (code 4) unless IgnoreUnknown is set
// and the pair is only unknown, never when it is malformed.
std::variant<std::map<std::string, std::string>, CniError> parseCniArgs(const std::string& text);

struct IpConfig {
  std::string address;  // "10.244.1.5/24"
  std::string gateway;  // "10.244.1.1"
  int interfaceIndex = 0;
};

struct Interface {
  std::string name;
  std::string mac;
  std::string sandbox;  // the netns path for the pod side, empty for the host side
};

struct Route {
  std::string destination;  // "0.0.0.0/0"
  std::string gateway;      // optional
};

struct AddResult {
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  std::vector<Route> routes;
};

// Renders a result in the requested version (1.0.0, 0.4.0, 0.3.1 or 0.3.0 layouts).
nlohmann::json renderResult(const AddResult& result, const std::string& cniVersion);
nlohmann::json renderError(const CniError& error, const std::string& cniVersion);
nlohmann::json renderVersion(const std::string& cniVersion);

// JSON text for stdout and the agent socket. Strings that are not UTF-8 become U+FFFD instead of
// throwing: a throw there would abort sluice-cni (or an agent thread) with no CNI error at all.
std::string toWire(const nlohmann::json& document);

}  // namespace sluice::cni
