// Log lines for operators: one line per event, UTC timestamp, a level, then
// the message. stdout for info, stderr for warnings and errors. Key material
// never reaches these functions (public keys may, shortened by the caller).
#pragma once

#include <cstdarg>

namespace wghub::ctl {

void log_info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace wghub::ctl
