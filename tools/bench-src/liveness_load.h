// tools/bench controller, liveness at scale: one replica's LivenessService on the real HTTP
// server, loaded over keep-alive connections by a forked load generator, so that the server
// process's CPU (getrusage) is the server's alone.
#pragma once

namespace sluice::bench {

// Prints BENCH lines; returns false when the server fell far behind the offered load.
bool runLivenessBench();

}  // namespace sluice::bench
