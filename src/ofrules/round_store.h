// RoundStore: where a flow syncer's restart round (the top 16 bits of every cookie) survives
// restarts. The OVSDB one is ovsdb::OvsdbRoundStore (src/ovsdb/ovsdb_round_store.h).
#pragma once

#include <cstdint>

#include "common/result.h"

namespace sluice::ofrules {

class RoundStore {
 public:
  virtual ~RoundStore() = default;
  // The last stored round; 0 when none was ever stored.
  virtual Result<std::uint16_t> load() = 0;
  virtual Result<void> store(std::uint16_t round) = 0;
};

// Keeps the round in memory: for tools and tests that need no persistence.
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
