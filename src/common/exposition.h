// Reads the Prometheus text exposition format (0.0.4), as /metrics serves it: for tests and
// tools that check metric values, not a general Prometheus client.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace sluice::exposition {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;  // with its suffix: "x_bucket", "x_sum", "x_count" for histograms
  Labels labels;
  double value = 0;
};

struct Exposition {
  std::vector<Sample> samples;
  std::map<std::string, std::string> types;  // family name -> "counter", "gauge", "histogram", ...

  // The first sample named `name` whose labels include all of `labels`.
  std::optional<double> value(std::string_view name, const Labels& labels = {}) const;
  // The sum over every sample named `name` whose labels include all of `labels` (0 if none).
  double sum(std::string_view name, const Labels& labels = {}) const;
};

// Errors name the line number and what is wrong with it.
[[nodiscard]] Result<Exposition> parseExposition(std::string_view text);

}  // namespace sluice::exposition
