// get services: this node's view of Services, as its agent's proxy serves them (the "services"
// query), filtered and rendered. Pure.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "sluicectl/render.h"

namespace sluice::sluicectl {

// The answer's frontends; `name` "NAMESPACE/NAME" keeps one Service, "NAMESPACE" one namespace.
nlohmann::json serviceItems(const nlohmann::json& answer, const std::optional<std::string>& name);

// NAME PORT CLUSTER-IP NODE-PORT ENDPOINTS GROUP; wide adds the policies, affinity, the NodePort
// group and every endpoint with its conditions. Usable endpoints are listed, local ones marked
// "(local)".
TextTable serviceTable(const nlohmann::json& items, bool wide);

}  // namespace sluice::sluicectl
