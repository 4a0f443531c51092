// ovs-vswitchd's unixctl commands through libopenvswitch's client: no ovs-appctl process.
#include "agent/ovs_control.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "common/log.h"
#include "ofrules/fields.h"

// lib/unixctl.h and lib/jsonrpc.h are libopenvswitch's private headers (meson adds OVS's lib/ for
// this file alone); unixctl.h declares its functions extern "C" itself, jsonrpc.h does not.
#include "unixctl.h"
extern "C" {
#include "jsonrpc.h"
}

namespace sluice::agent {
namespace {

// Frees a string libopenvswitch allocated.
struct FreeDeleter {
  void operator()(char* text) const { std::free(text); }
};
using OvsString = std::unique_ptr<char, FreeDeleter>;

std::string snatZone() { return "zone=" + std::to_string(ofrules::kSnatCtZone); }

}  // namespace

std::string vswitchdControlPath(const std::string& ovsRunDir) {
  auto fixed = ovsRunDir + "/ovs-vswitchd.ctl";
  if (std::filesystem::exists(fixed)) return fixed;
  std::ifstream pidFile(ovsRunDir + "/ovs-vswitchd.pid");
  std::string pid;
  if (pidFile >> pid) return ovsRunDir + "/ovs-vswitchd." + pid + ".ctl";
  return fixed;
}

Result<std::string> UnixctlOvsControl::run(const std::string& command,
                                           const std::vector<std::string>& arguments) {
  const auto path = vswitchdControlPath(ovsRunDir_);
  struct jsonrpc* client = nullptr;
  if (int error = unixctl_client_create(path.c_str(), &client); error != 0)
    return makeError("cannot reach ovs-vswitchd at " + path + ": " + std::strerror(error) +
                     "; is ovs-vswitchd running and the agent's ovsRunDir right?");
  std::vector<std::string> copies = arguments;  // the C API takes char*[]
  std::vector<char*> argv;
  argv.reserve(copies.size());
  for (auto& argument : copies) argv.push_back(argument.data());
  char* resultText = nullptr;
  char* errorText = nullptr;
  const int error = unixctl_client_transact(client, command.c_str(), static_cast<int>(argv.size()),
                                            argv.data(), &resultText, &errorText);
  jsonrpc_close(client);
  OvsString result(resultText);
  OvsString failure(errorText);
  if (error != 0)
    return makeError("ovs-vswitchd " + command + ": " + std::strerror(error) + " (" + path + ")");
  if (failure) return makeError("ovs-vswitchd " + command + ": " + failure.get());
  return std::string(result ? result.get() : "");
}

Result<void> flushEgressIpConntrack(OvsControl& control, Ipv4 egressIp) {
  // The empty original tuple: match on the reply tuple only.
  auto flushed =
      control.run("dpctl/flush-conntrack", {snatZone(), "", "ct_nw_dst=" + formatIpv4(egressIp)});
  if (!flushed) return flushed.error();
  return {};
}

Result<void> flushPodIpConntrack(OvsControl& control, Ipv4 podIp) {
  auto flushed =
      control.run("dpctl/flush-conntrack", {snatZone(), "ct_nw_src=" + formatIpv4(podIp)});
  if (!flushed) return flushed.error();
  return {};
}

Result<void> disableConntrackTcpSequenceCheck(OvsControl& control) {
  auto set = control.run("dpctl/ct-disable-tcp-seq-chk", {});
  if (!set) return set.error();
  return {};
}

void ConntrackFlushes::run(OvsControl& control) {
  // Stale entries of a released IP would steer new connections with old translations, were the
  // IP to come back; a pod's entries would keep the source its Egress no longer gives it.
  for (const auto ip : egressIps_)
    if (auto flushed = flushEgressIpConntrack(control, ip); !flushed)
      SLUICE_LOG(kWarning, "egress") << "could not flush conntrack entries of released egress IP "
                                     << formatIpv4(ip) << ": " << flushed.error().message;
  for (const auto ip : podIps_)
    if (auto flushed = flushPodIpConntrack(control, ip); !flushed)
      SLUICE_LOG(kWarning, "egress") << "could not flush conntrack entries of pod IP "
                                     << formatIpv4(ip) << ": " << flushed.error().message;
  egressIps_.clear();
  podIps_.clear();
}

}  // namespace sluice::agent
