// Human-readable cookies for sluicectl and logs: category names and a decoded description.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ofrules/flow.h"

namespace sluice::ofrules {

// "pipeline", "gateway", "tunnel", "pod", "noderoute", "egress", "service", "test", "unknown".
std::string_view categoryName(Category category);
std::optional<Category> categoryByName(std::string_view name);
// "round=3,category=egress,owner=0xabc".
std::string describeCookie(std::uint64_t cookie);

}  // namespace sluice::ofrules
