// Witness sets: the same set from any order of the node list, at most k, never the node itself,
// stable when an unrelated node joins, and witnessedBy the exact inverse of witnessesOf.
#include "common/witnesses.h"

#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace sluice {
namespace {

std::vector<std::string> nodeNames(int count) {
  std::vector<std::string> out;
  for (int i = 1; i <= count; ++i) out.push_back("node" + std::to_string(100 + i).substr(1));
  return out;
}

TEST_CASE("witnessesOf picks k other nodes, the same from any order", "[unit]") {
  auto nodes = nodeNames(20);
  const auto witnesses = witnessesOf("node07", nodes, 5);
  REQUIRE(witnesses.size() == 5);
  CHECK(std::find(witnesses.begin(), witnesses.end(), "node07") == witnesses.end());
  std::reverse(nodes.begin(), nodes.end());
  nodes.push_back("node03");  // a duplicate counts once
  CHECK(witnessesOf("node07", nodes, 5) == witnesses);
}

TEST_CASE("witnessesOf with fewer nodes than k takes every other node", "[unit]") {
  const std::vector<std::string> nodes{"node01", "node02", "node03"};
  auto witnesses = witnessesOf("node02", nodes, 5);
  std::sort(witnesses.begin(), witnesses.end());
  CHECK(witnesses == std::vector<std::string>{"node01", "node03"});
  CHECK(witnessesOf("node01", {"node01"}, 5).empty());
}

TEST_CASE("a joining node changes a witness set only by displacing one member", "[unit]") {
  const auto nodes = nodeNames(30);
  auto grown = nodes;
  grown.push_back("node99");
  int changed = 0;
  for (const auto& node : nodes) {
    const auto before = witnessesOf(node, nodes, 5);
    const auto after = witnessesOf(node, grown, 5);
    if (before == after) continue;
    ++changed;
    // The newcomer took one place; the other four are still there.
    CHECK(std::find(after.begin(), after.end(), "node99") != after.end());
    int kept = 0;
    for (const auto& peer : before)
      kept += std::find(after.begin(), after.end(), peer) != after.end() ? 1 : 0;
    CHECK(kept == 4);
  }
  CHECK(changed < 15);  // about k/n of the sets: 5 of 30 on average
}

TEST_CASE("witnessedBy is the inverse of witnessesOf", "[unit]") {
  const auto nodes = nodeNames(12);
  for (const auto& witness : nodes) {
    for (const auto& node : nodes) {
      const auto witnesses = witnessesOf(node, nodes, 3);
      const bool witnesses_it =
          std::find(witnesses.begin(), witnesses.end(), witness) != witnesses.end();
      const auto by = witnessedBy(witness, nodes, 3);
      CHECK((std::find(by.begin(), by.end(), node) != by.end()) == witnesses_it);
    }
  }
}

TEST_CASE("isMajority is strict and never true without witnesses", "[unit]") {
  CHECK_FALSE(isMajority(0, 0));
  CHECK(isMajority(1, 1));
  CHECK_FALSE(isMajority(1, 2));
  CHECK(isMajority(2, 2));
  CHECK(isMajority(2, 3));
  CHECK_FALSE(isMajority(2, 4));
  CHECK(isMajority(3, 5));
}

}  // namespace
}  // namespace sluice
