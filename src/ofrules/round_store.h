// RoundStore: where the agent's restart round (the top 16 bits of every cookie) survives restarts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace sluice::ofrules {

class RoundStore {
 public:
  virtual ~RoundStore() = default;
  // The last stored round; 0 when none was ever stored.
  virtual Result<std::uint16_t> load() = 0;
  virtual Result<void> store(std::uint16_t round) = 0;
};

struct VsctlRoundStoreOptions {
  std::string dbRemote;  // e.g. "unix:/var/run/openvswitch/db.sock"
  std::string bridge;    // the round is kept in Bridge BRIDGE external_ids
  std::string key = "sluice-round";
};

// Keeps the round in Bridge external_ids through ovs-vsctl. Runs once per agent start, never on
// the flow path; to be replaced by the OVSDB client.
class VsctlRoundStore : public RoundStore {
 public:
  explicit VsctlRoundStore(VsctlRoundStoreOptions options) : options_(std::move(options)) {}
  Result<std::uint16_t> load() override;
  Result<void> store(std::uint16_t round) override;

 private:
  Result<std::string> runVsctl(const std::vector<std::string>& arguments) const;
  VsctlRoundStoreOptions options_;
};

// Keeps the round in memory: for tools and unit tests that need no persistence.
class MemoryRoundStore : public RoundStore {
 public:
  explicit MemoryRoundStore(std::uint16_t round = 0) : round_(round) {}
  Result<std::uint16_t> load() override { return round_; }
  Result<void> store(std::uint16_t round) override {
    round_ = round;
    return {};
  }

 private:
  std::uint16_t round_;
};

}  // namespace sluice::ofrules
