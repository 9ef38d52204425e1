#include "control/log.hpp"

#include <cstdio>
#include <ctime>

namespace wghub::ctl {

namespace {

void emit(FILE* to, const char* level, const char* fmt, va_list args) {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc;
  gmtime_r(&now.tv_sec, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::fprintf(to, "%s.%03ldZ %s ", stamp, now.tv_nsec / 1000000, level);
  std::vfprintf(to, fmt, args);
  std::fputc('\n', to);
  std::fflush(to);
}

}  // namespace

#define WGHUB_LOG_FN(name, stream, level) \
  void name(const char* fmt, ...) {       \
    va_list args;                         \
    va_start(args, fmt);                  \
    emit(stream, level, fmt, args);       \
    va_end(args);                         \
  }

WGHUB_LOG_FN(log_info, stdout, "info ")
WGHUB_LOG_FN(log_warn, stderr, "warn ")
WGHUB_LOG_FN(log_error, stderr, "error")

#undef WGHUB_LOG_FN

}  // namespace wghub::ctl
