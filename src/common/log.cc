// Logging implementation: timestamped lines to stderr under one mutex.
#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace sluice::log {
namespace {
std::atomic<Level> currentLevel{Level::kInfo};
std::mutex writeMutex;

const char* levelName(Level level) {
  switch (level) {
    case Level::kDebug: return "D";
    case Level::kInfo: return "I";
    case Level::kWarning: return "W";
    case Level::kError: return "E";
  }
  return "?";
}
}  // namespace

void setLevel(Level level) { currentLevel = level; }
Level level() { return currentLevel; }

void write(Level level, std::string_view component, std::string_view message) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t seconds = system_clock::to_time_t(now);
  const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &utc);
  std::lock_guard lock(writeMutex);
  std::fprintf(stderr, "%s%s.%03lld %.*s] %.*s\n", levelName(level), stamp,
               static_cast<long long>(millis), static_cast<int>(component.size()), component.data(),
               static_cast<int>(message.size()), message.data());
}

}  // namespace sluice::log
