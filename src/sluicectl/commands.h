// The thin shell of sluicectl: each command asks the agent, the Kubernetes API, the controller or
// ovs-vswitchd, then hands plain data to the pure views.
#pragma once

#include <string>

#include "common/result.h"
#include "sluicectl/cli.h"

namespace sluice::sluicectl {

// Runs the command; the text to print on success.
Result<std::string> run(const Invocation& invocation);

}  // namespace sluice::sluicectl
