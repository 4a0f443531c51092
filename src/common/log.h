// Minimal leveled logging to stderr, one line per record, safe from several threads.
#pragma once

#include <sstream>
#include <string_view>

namespace sluice::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void setLevel(Level level);
Level level();
void write(Level level, std::string_view component, std::string_view message);

}  // namespace sluice::log

// SLUICE_LOG(kInfo, "syncer") << "installed " << n << " flows";
// A for statement, not an if/else, so that it nests under an unbraced if without dangling-else.
#define SLUICE_LOG(LEVEL, COMPONENT)                                                              \
  for (bool sluiceLogOnce = ::sluice::log::Level::LEVEL >= ::sluice::log::level(); sluiceLogOnce; \
       sluiceLogOnce = false)                                                                     \
  ::sluice::log::detail::Line(::sluice::log::Level::LEVEL, COMPONENT).stream()

namespace sluice::log::detail {
class Line {
 public:
  Line(Level level, std::string_view component) : level_(level), component_(component) {}
  ~Line() { write(level_, component_, stream_.str()); }
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;
  std::ostringstream& stream() { return stream_; }

 private:
  Level level_;
  std::string_view component_;
  std::ostringstream stream_;
};
}  // namespace sluice::log::detail
