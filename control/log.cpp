#include "control/log.hpp"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>

#include "control/line_writer.hpp"

namespace wghub::ctl {

namespace {

void emit(FILE* to, const char* level, const char* fmt, va_list args) {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc;
  gmtime_r(&now.tv_sec, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  char head[64];
  const int head_len =
      std::snprintf(head, sizeof head, "%s.%03ldZ %s ", stamp, now.tv_nsec / 1000000, level);
  std::string line(head, static_cast<std::size_t>(head_len > 0 ? head_len : 0));
  char body[512];
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(body, sizeof body, fmt, args);
  if (n >= static_cast<int>(sizeof body)) {
    std::string big(static_cast<std::size_t>(n) + 1, '\0');
    std::vsnprintf(big.data(), big.size(), fmt, copy);
    big.pop_back();
    line += big;
  } else if (n > 0) {
    line.append(body, static_cast<std::size_t>(n));
  }
  va_end(copy);
  line += '\n';
  // Once the hub runs, its writer thread writes it (line_writer.hpp).
  if (line_writer_push(fileno(to), line)) return;
  std::fwrite(line.data(), 1, line.size(), to);
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
