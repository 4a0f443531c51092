// Output of sluicectl's get commands: kubectl-like column tables, JSON and YAML. Pure.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice::sluicectl {

struct TextTable {
  std::vector<std::string> headers;            // upper case, as kubectl prints them
  std::vector<std::vector<std::string>> rows;  // one cell per header
};

// Columns left-aligned and separated by three spaces, like kubectl; the last column is not padded.
// An empty table prints "No resources found." unless `emptyText` says otherwise.
std::string renderTable(const TextTable& table, const std::string& emptyText = "");

// kubectl's "<none>" for an empty cell.
std::string orNone(const std::string& text);

// YAML of a JSON value, block style, keys in the JSON's order.
std::string renderYaml(const nlohmann::json& value);

// "3s", "1m5s", "2h" from milliseconds, like kubectl's AGE column.
std::string shortDuration(long long milliseconds);

}  // namespace sluice::sluicectl
