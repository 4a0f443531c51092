// Tables, YAML and durations for sluicectl's output.
#include "sluicectl/render.h"

#include <algorithm>

#include <yaml-cpp/yaml.h>

namespace sluice::sluicectl {
namespace {

YAML::Node toYaml(const nlohmann::json& value) {
  YAML::Node node;
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      node = YAML::Node(YAML::NodeType::Map);
      for (const auto& [key, item] : value.items()) node[key] = toYaml(item);
      return node;
    case nlohmann::json::value_t::array:
      node = YAML::Node(YAML::NodeType::Sequence);
      for (const auto& item : value) node.push_back(toYaml(item));
      return node;
    case nlohmann::json::value_t::string: return YAML::Node(value.get<std::string>());
    case nlohmann::json::value_t::null: return YAML::Node(YAML::NodeType::Null);
    default: return YAML::Node(value.dump());  // numbers and booleans print as JSON does
  }
}

}  // namespace

std::string renderTable(const TextTable& table, const std::string& emptyText) {
  if (table.rows.empty()) return (emptyText.empty() ? "No resources found." : emptyText) + "\n";
  std::vector<std::size_t> widths(table.headers.size(), 0);
  const auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < widths.size() && i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  };
  measure(table.headers);
  for (const auto& row : table.rows) measure(row);
  std::string out;
  const auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      line += cell;
      if (i + 1 < widths.size()) line += std::string(widths[i] - cell.size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  };
  print(table.headers);
  for (const auto& row : table.rows) print(row);
  return out;
}

std::string orNone(const std::string& text) { return text.empty() ? "<none>" : text; }

std::string renderYaml(const nlohmann::json& value) {
  YAML::Emitter emitter;
  emitter << toYaml(value);
  return std::string(emitter.c_str()) + "\n";
}

std::string shortDuration(long long milliseconds) {
  if (milliseconds < 0) return "<unknown>";
  if (milliseconds < 1000) return std::to_string(milliseconds) + "ms";
  const long long seconds = milliseconds / 1000;
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600)
    return std::to_string(seconds / 60) + "m" +
           (seconds % 60 ? std::to_string(seconds % 60) + "s" : "");
  if (seconds < 86400)
    return std::to_string(seconds / 3600) + "h" +
           (seconds / 60 % 60 ? std::to_string(seconds / 60 % 60) + "m" : "");
  return std::to_string(seconds / 86400) + "d";
}

}  // namespace sluice::sluicectl
