// libFuzzer target: metav1.LabelSelector parsing, matching and rendering. Properties checked:
// a parsed selector survives toJson -> parse unchanged, and matching never throws.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_common.h"
#include "kube/label_selector.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  auto document = fuzz::jsonOf(fuzz::textOf(data, size));
  if (!document) return 0;
  // {"selector": ..., "labels": {...}} exercises matching; anything else is a bare selector.
  nlohmann::json selectorJson = *document;
  kube::Labels labels;
  if (document->is_object() && document->contains("selector")) {
    selectorJson = (*document)["selector"];
    labels = kube::labelsOf(
        nlohmann::json{{"metadata", {{"labels", document->value("labels", nlohmann::json())}}}});
  }
  (void)kube::parseOptionalLabelSelector(*document, "selector", "spec.selector");
  auto selector = kube::parseLabelSelector(selectorJson, "spec.selector");
  if (!selector) {
    (void)selector.error().message.size();
    return 0;
  }
  (void)kube::matches(*selector, labels);
  (void)kube::toQueryString(*selector);
  auto again = kube::parseLabelSelector(kube::toJson(*selector), "spec.selector");
  if (!again) __builtin_trap();
  if (kube::toQueryString(*again) != kube::toQueryString(*selector)) __builtin_trap();
  if (kube::matches(*again, labels) != kube::matches(*selector, labels)) __builtin_trap();
  return 0;
}
