// Run-time checks and rendering for allocated fields and subfields.
#include "ofrules/fields.h"

namespace sluice::ofrules {
namespace {

std::string bitRange(std::uint8_t low, std::uint8_t high) {
  if (low == high) return "[" + std::to_string(low) + "]";
  return "[" + std::to_string(low) + ".." + std::to_string(high) + "]";
}

}  // namespace

std::string Field::describe() const {
  std::string where = space == FieldSpace::kCtMark ? "ct_mark" : "reg" + std::to_string(reg);
  return std::string(name) + " (" + where + bitRange(low, high) + ")";
}

Result<void> checkFieldAllocation(std::span<const Field> fields) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const Field& field = fields[i];
    if (!field.wellFormed()) {
      return makeError("field \"" + std::string(field.name) +
                       "\" is malformed: it needs a name, low <= high <= 31" +
                       " and a register 0..15 (got reg" + std::to_string(field.reg) + "[" +
                       std::to_string(field.low) + ".." + std::to_string(field.high) +
                       "]); fix its declaration in ofrules/fields.h");
    }
    for (std::size_t j = i + 1; j < fields.size(); ++j) {
      if (field.overlaps(fields[j])) {
        return makeError("fields " + field.describe() + " and " + fields[j].describe() +
                         " overlap; move one of them to free bits in ofrules/fields.h");
      }
    }
  }
  return {};
}

std::string Subfield::render() const {
  if (low == 0 && width() == containerWidth) return std::string(nxmName) + "[]";
  return std::string(nxmName) + bitRange(low, high);
}

}  // namespace sluice::ofrules
