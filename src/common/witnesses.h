// Witnesses: which peers vouch for a node's liveness. Every node has up to k witnesses among the
// other nodes, chosen by rendezvous hashing over the node names, so the agent and every
// controller replica compute the same set from the same Node list, each node is witness for about
// k others whatever the cluster's size, and adding or removing a node changes only the sets that
// ranked it. A node keeps its egress IPs while it reaches a majority of its witnesses; the
// controller moves them only when a majority of the same witnesses cannot hear it (majorities of
// one set always share a member). Pure.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace sluice {

inline constexpr std::size_t kDefaultWitnesses = 5;

// The (at most) k nodes of `nodes` other than `node` ranked highest by
// a mix of stableHash(node + "/" + peer), best first. Duplicates in `nodes` count once.
std::vector<std::string> witnessesOf(const std::string& node, const std::vector<std::string>& nodes,
                                     std::size_t k);

// The nodes of `nodes` whose witnesses include `witness` (sorted by name).
std::vector<std::string> witnessedBy(const std::string& witness,
                                     const std::vector<std::string>& nodes, std::size_t k);

// Whether `count` of `total` witnesses is a strict majority. With no witnesses (a one-node
// cluster) nobody can vouch, so it is never a majority.
constexpr bool isMajority(std::size_t count, std::size_t total) {
  return total > 0 && count * 2 > total;
}

}  // namespace sluice
