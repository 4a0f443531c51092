// Category names and cookie descriptions.
#include "ofrules/cookie_text.h"

#include <array>
#include <utility>

#include "ofrules/values.h"

namespace sluice::ofrules {
namespace {

constexpr std::array<std::pair<Category, std::string_view>, 9> kCategoryNames = {{
    {Category::kUnknown, "unknown"},
    {Category::kPipeline, "pipeline"},
    {Category::kGateway, "gateway"},
    {Category::kTunnel, "tunnel"},
    {Category::kPod, "pod"},
    {Category::kNodeRoute, "noderoute"},
    {Category::kEgress, "egress"},
    {Category::kService, "service"},
    {Category::kTest, "test"},
}};

}  // namespace

std::string_view categoryName(Category category) {
  for (const auto& [value, name] : kCategoryNames) {
    if (value == category) return name;
  }
  return "unknown";
}

std::optional<Category> categoryByName(std::string_view name) {
  for (const auto& [value, text] : kCategoryNames) {
    if (text == name) return value;
  }
  return std::nullopt;
}

std::string describeCookie(std::uint64_t cookie) {
  Cookie decoded = Cookie::decode(cookie);
  std::string category(categoryName(decoded.category));
  if (decoded.category != Category::kUnknown && category == "unknown") {
    category = std::to_string(static_cast<unsigned>(decoded.category));
  }
  return "round=" + std::to_string(decoded.round) + ",category=" + category +
         ",owner=" + renderHex(decoded.ownerHash);
}

}  // namespace sluice::ofrules
