// IngressGuard over libnftables: the same language as the nft CLI, without a process per call.
#include "agent/ingress_guard.h"

#include <nftables/libnftables.h>

namespace sluice::agent {

Result<std::unique_ptr<IngressGuard>> IngressGuard::create(const std::string& table) {
  nft_ctx* context = nft_ctx_new(NFT_CTX_DEFAULT);
  if (context == nullptr) return makeError("nftables: cannot create a context");
  nft_ctx_buffer_output(context);
  nft_ctx_buffer_error(context);
  std::unique_ptr<IngressGuard> guard(new IngressGuard(context, table));
  if (auto created = guard->run("add table netdev " + table); !created) return created.error();
  return guard;
}

IngressGuard::IngressGuard(nft_ctx* context, std::string table)
    : context_(context), table_(std::move(table)) {}

IngressGuard::~IngressGuard() { nft_ctx_free(context_); }

Result<std::string> IngressGuard::run(const std::string& command) {
  const int status = nft_run_cmd_from_buffer(context_, command.c_str());
  const std::string output = nft_ctx_get_output_buffer(context_);
  const std::string error = nft_ctx_get_error_buffer(context_);
  if (status != 0) return makeError("nftables: `" + command + "` failed: " + error);
  return output;
}

Result<void> IngressGuard::guard(const std::string& device) {
  auto added =
      run("add chain netdev " + table_ + " " + chainName(device) +
          " { type filter hook ingress device \"" + device + "\" priority 0; policy drop; }");
  if (!added) return added.error();
  return {};
}

Result<void> IngressGuard::unguard(const std::string& device) {
  if (!guarded(device)) return {};
  auto deleted = run("delete chain netdev " + table_ + " " + chainName(device));
  if (!deleted && guarded(device))
    return deleted.error();  // gone with its device meanwhile is fine
  return {};
}

bool IngressGuard::guarded(const std::string& device) {
  return run("list chain netdev " + table_ + " " + chainName(device)).ok();
}

}  // namespace sluice::agent
