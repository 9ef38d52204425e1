// Log lines for operators: one line per event, UTC timestamp, a level, then
// the message. stdout for info, stderr for warnings and errors. Key material
// never reaches these functions (public keys may, shortened by the caller).
#pragma once

#include <cstdarg>
#include <cstddef>

namespace wghub::ctl {

// Now, UTC, as log and audit lines begin: "2026-12-07T02:40:51.980Z" (24
// characters, and a NUL). Returns the length. The date and time of day are
// formatted once a second per thread: a handshake's log line and audit
// record each paid gmtime_r and strftime (~10 % of a handshake's cycles
// beyond its X25519s, with the JSON escaping).
std::size_t utc_timestamp(char (&out)[32]);

void log_info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace wghub::ctl
