// Rendezvous hashing: each candidate gets a score from the pair (node, candidate); the k best win.
#include "common/witnesses.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <utility>

#include "common/hash.h"

namespace sluice {
namespace {

// FNV-1a barely mixes its last bytes into the high bits, and names differ mostly at the end
// ("node07/node12"); a 64-bit finalizer (splitmix64's) spreads them before ranking.
std::uint64_t score(const std::string& node, const std::string& peer) {
  std::uint64_t x = stableHash(node + "/" + peer);
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

std::vector<std::string> witnessesOf(const std::string& node, const std::vector<std::string>& nodes,
                                     std::size_t k) {
  const std::set<std::string> unique(nodes.begin(), nodes.end());
  std::vector<std::pair<std::uint64_t, std::string>> ranked;
  ranked.reserve(unique.size());
  for (const auto& peer : unique) {
    if (peer == node) continue;
    ranked.emplace_back(score(node, peer), peer);
  }
  // Highest score first; the name breaks (astronomically unlikely) ties.
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  if (ranked.size() > k) ranked.resize(k);
  std::vector<std::string> out;
  out.reserve(ranked.size());
  for (auto& [score, peer] : ranked) out.push_back(std::move(peer));
  return out;
}

std::vector<std::string> witnessedBy(const std::string& witness,
                                     const std::vector<std::string>& nodes, std::size_t k) {
  const std::set<std::string> unique(nodes.begin(), nodes.end());
  const std::vector<std::string> all(unique.begin(), unique.end());
  std::vector<std::string> out;
  for (const auto& node : all) {
    if (node == witness) continue;
    const auto witnesses = witnessesOf(node, all, k);
    if (std::find(witnesses.begin(), witnesses.end(), witness) != witnesses.end())
      out.push_back(node);
  }
  return out;
}

}  // namespace sluice
