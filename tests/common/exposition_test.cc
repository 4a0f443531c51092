// The exposition-format reader against what prometheus-cpp writes and against malformed lines.
#include <catch2/catch.hpp>

#include <cmath>

#include "common/exposition.h"

namespace sluice::exposition {
namespace {

TEST_CASE("exposition: samples, labels, types and special values", "[unit]") {
  const auto parsed = parseExposition(
      "# HELP sluice_agent_local_pod_count Pods on this node\n"
      "# TYPE sluice_agent_local_pod_count gauge\n"
      "sluice_agent_local_pod_count 3\n"
      "# TYPE sluice_agent_ovs_flow_count gauge\n"
      "sluice_agent_ovs_flow_count{bridge=\"br-int\",table=\"Classifier\"} 7\n"
      "sluice_agent_ovs_flow_count{bridge=\"br-int\",table=\"Output\"} 2 1700000000000\n"
      "sluice_agent_ovs_flow_count{bridge=\"br-phy\",table=\"0\"} 5\n"
      "  \n"
      "odd{msg=\"a \\\"quoted\\\", \\\\ and\\nnewline\"} -1.5e-3\r\n"
      "h_bucket{le=\"+Inf\"} +Inf\n"
      "n NaN\n");
  REQUIRE(parsed.ok());
  CHECK(parsed->samples.size() == 7);
  CHECK(parsed->types.at("sluice_agent_local_pod_count") == "gauge");
  CHECK(parsed->value("sluice_agent_local_pod_count") == 3);
  CHECK(parsed->value("sluice_agent_ovs_flow_count", {{"table", "Output"}}) == 2);
  CHECK(parsed->sum("sluice_agent_ovs_flow_count", {{"bridge", "br-int"}}) == 9);
  CHECK(parsed->sum("sluice_agent_ovs_flow_count") == 14);
  CHECK_FALSE(parsed->value("sluice_agent_ovs_flow_count", {{"table", "Nope"}}).has_value());
  CHECK(parsed->value("odd", {{"msg", "a \"quoted\", \\ and\nnewline"}}) == -0.0015);
  CHECK(std::isinf(*parsed->value("h_bucket", {{"le", "+Inf"}})));
  CHECK(std::isnan(*parsed->value("n")));
}

TEST_CASE("exposition: a malformed line is an error naming the line", "[unit]") {
  for (const char* text : {"ok 1\nbroken{a=\"x\" 1\n", "ok 1\nno_value\n", "ok 1\nx{a=\"1\"} one\n",
                           "ok 1\n{a=\"1\"} 1\n", "ok 1\nx{a=1} 1\n"}) {
    const auto parsed = parseExposition(text);
    INFO(text);
    REQUIRE_FALSE(parsed.ok());
    CHECK_THAT(parsed.error().message, Catch::StartsWith("metrics line 2:"));
  }
}

}  // namespace
}  // namespace sluice::exposition
