// OvsdbRoundStore: the restart round in Bridge external_ids.
#include "ovsdb/ovsdb_round_store.h"

#include <charconv>

namespace sluice::ovsdb {

std::optional<std::uint16_t> parseRound(std::string_view text) {
  unsigned round = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), round);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || round > 0xffff)
    return std::nullopt;
  return static_cast<std::uint16_t>(round);
}

OvsdbRoundStore::OvsdbRoundStore(OvsdbClient& ovsdb, std::string bridge, std::string key)
    : ovsdb_(ovsdb), bridge_(std::move(bridge)), key_(std::move(key)) {}

Result<std::uint16_t> OvsdbRoundStore::load() {
  auto value = ovsdb_.getExternalId(RecordRef::bridge(bridge_), key_);
  if (!value)
    return makeError("cannot read the restart round from Bridge " + bridge_ +
                     " external_ids:" + key_ + ": " + value.error().message);
  if (!value->has_value()) return std::uint16_t{0};
  auto round = parseRound(**value);
  if (!round)
    return makeError("Bridge " + bridge_ + " external_ids:" + key_ + " is \"" + **value +
                     "\", not a round number 0-65535; remove the key to start again from round 1");
  return *round;
}

Result<void> OvsdbRoundStore::store(std::uint16_t round) {
  auto stored = ovsdb_.setExternalId(RecordRef::bridge(bridge_), key_, std::to_string(round));
  if (!stored)
    return makeError("cannot store the restart round in Bridge " + bridge_ +
                     " external_ids:" + key_ + ": " + stored.error().message);
  return {};
}

}  // namespace sluice::ovsdb
