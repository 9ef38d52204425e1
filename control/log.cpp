#include "control/log.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "control/line_writer.hpp"

namespace wghub::ctl {

namespace {

void emit(FILE* to, const char* level, const char* fmt, va_list args) {
  char stamp[32];
  const std::size_t stamp_len = utc_timestamp(stamp);
  std::string line;
  line.reserve(stamp_len + 8 + 128);
  line.append(stamp, stamp_len).append(" ").append(level).append(" ");
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

std::size_t utc_timestamp(char (&out)[32]) {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  // "YYYY-MM-DDTHH:MM:SS" for the second it was last made, per thread.
  thread_local time_t cached_sec = -1;
  thread_local char cached[24];
  thread_local std::size_t cached_len = 0;
  if (now.tv_sec != cached_sec) {
    tm utc;
    gmtime_r(&now.tv_sec, &utc);
    cached_len = std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &utc);
    cached_sec = now.tv_sec;
  }
  std::memcpy(out, cached, cached_len);
  const long ms = now.tv_nsec / 1000000;
  char* p = out + cached_len;
  *p++ = '.';
  *p++ = static_cast<char>('0' + ms / 100);
  *p++ = static_cast<char>('0' + ms / 10 % 10);
  *p++ = static_cast<char>('0' + ms % 10);
  *p++ = 'Z';
  *p = '\0';
  return static_cast<std::size_t>(p - out);
}

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
