// OvsdbRoundStore: a flow syncer's restart round in its bridge's external_ids, one per bridge
// (br-int and br-phy each keep their own), so cookies tell this run's flows from the last run's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "ofrules/round_store.h"
#include "ovsdb/external_ids.h"
#include "ovsdb/ovsdb_client.h"

namespace sluice::ovsdb {

// The round stored in external_ids (decimal 0..65535); nothing when the text is anything else.
std::optional<std::uint16_t> parseRound(std::string_view text);

class OvsdbRoundStore : public ofrules::RoundStore {
 public:
  // Keeps the round in Bridge `bridge` external_ids:`key`.
  OvsdbRoundStore(OvsdbClient& ovsdb, std::string bridge, std::string key = keys::kRound);
  Result<std::uint16_t> load() override;
  Result<void> store(std::uint16_t round) override;

 private:
  OvsdbClient& ovsdb_;
  std::string bridge_;
  std::string key_;
};

}  // namespace sluice::ovsdb
