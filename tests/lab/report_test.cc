// The evaluation report end to end: `sluice-lab report --quick --out DIR` runs its measurements in
// labs of its own and must leave a report.md with every section and its numbers, and real PNGs.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "lab_fixture.h"

namespace sluice::testing {
namespace {

std::string readFile(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// The body of one "## TITLE" section: up to the next "## " heading.
std::string section(const std::string& page, const std::string& title) {
  const auto start = page.find("\n## " + title + "\n");
  if (start == std::string::npos) return "";
  const auto end = page.find("\n## ", start + 4);
  return page.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// Whether a PNG is real: the signature, an IHDR chunk with a non-zero size, and an IEND chunk.
bool validPng(const std::string& bytes) {
  static const std::string kSignature = "\x89PNG\r\n\x1a\n";
  if (bytes.size() < 64 || bytes.compare(0, kSignature.size(), kSignature) != 0) return false;
  if (bytes.compare(12, 4, "IHDR") != 0) return false;
  auto bigEndian = [&](std::size_t at) {
    return (static_cast<unsigned char>(bytes[at]) << 24) |
           (static_cast<unsigned char>(bytes[at + 1]) << 16) |
           (static_cast<unsigned char>(bytes[at + 2]) << 8) |
           static_cast<unsigned char>(bytes[at + 3]);
  };
  return bigEndian(16) > 0 && bigEndian(20) > 0 && bytes.find("IEND") != std::string::npos;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/sluice-report-test-XXXXXX";
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST_CASE("sluice-lab report --quick writes report.md with every section and valid PNG plots",
          "[lab][report]") {
  TempDir out;
  REQUIRE_FALSE(out.path().empty());
  const auto result = shell("SLUICE_BUILD=" + quote(SLUICE_BUILD_ROOT) + " timeout 600 " +
                            Lab::tool() + " report --quick --out " + quote(out.path()));
  INFO(result.output.substr(result.output.size() > 4000 ? result.output.size() - 4000 : 0));
  REQUIRE(result.ok());

  const auto page = readFile(out.path() + "/report.md");
  REQUIRE_FALSE(page.empty());
  INFO(page);
  // Each section, with the numbers it must carry (a figure with digits, not "n/a").
  const std::regex number("\\| [0-9]+(\\.[0-9]+)? ");
  for (const char* title : {"Summary", "Machine", "Throughput", "Latency", "Failover",
                            "Apply to effect", "CNI ADD latency"}) {
    const auto body = section(page, title);
    INFO("section " << title);
    CHECK_FALSE(body.empty());
    if (std::string(title) != "Machine" && std::string(title) != "Summary")
      CHECK(std::regex_search(body, number));
  }
  const auto machine = section(page, "Machine");
  for (const char* row :
       {"| CPU |", "| Cores |", "| Memory |", "| Kernel |", "| OVS |", "| Date |"})
    CHECK(machine.find(row) != std::string::npos);
  CHECK(machine.find("Open vSwitch") != std::string::npos);
  CHECK(page.find("n/a") == std::string::npos);

  // Failover: both kinds measured, no probe ever left with a wrong source IP.
  const auto failover = section(page, "Failover");
  CHECK(std::regex_search(failover, std::regex("\\| Graceful move \\| [1-9][0-9]* \\| [0-9]")));
  CHECK(std::regex_search(failover, std::regex("\\| Dead node \\| [1-9][0-9]* \\| [0-9]")));

  for (const char* plot : {"throughput", "rtt", "failover", "apply", "cni"}) {
    INFO("plot " << plot);
    const auto path = out.path() + "/" + plot + ".png";
    CHECK(page.find("(" + std::string(plot) + ".png)") != std::string::npos);
    CHECK(validPng(readFile(path)));
  }
}

}  // namespace
}  // namespace sluice::testing
