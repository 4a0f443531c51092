// Helpers shared by the libFuzzer targets: turning fuzz bytes into text and JSON.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace sluice::fuzz {

inline std::string textOf(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// Malformed JSON is the parser's business (nlohmann is not ours to fuzz); the targets care about
// what our decoders do with every well-formed document.
inline std::optional<nlohmann::json> jsonOf(const std::string& text) {
  auto document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return std::nullopt;
  return document;
}

}  // namespace sluice::fuzz
