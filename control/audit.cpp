#include "control/audit.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "control/line_writer.hpp"
#include "control/log.hpp"

namespace wghub::ctl {

namespace {

std::mutex g_mutex;  // lines from the control thread and the start-up path
int g_fd = -1;
bool g_stdout = true;
unsigned g_batches = 0;  // AuditBatch objects alive
std::string g_pending;   // their lines, not yet written
constexpr std::size_t kPendingMax = 256 * 1024;

// Under g_mutex.
void write_lines(const std::string& text) {
  if (text.empty()) return;
  if (g_stdout && !line_writer_push(STDOUT_FILENO, text)) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
  if (g_fd >= 0 && !line_writer_push(g_fd, text)) {
    // One write of whole lines: O_APPEND keeps concurrent writers' lines whole.
    const ssize_t n = ::write(g_fd, text.data(), text.size());
    (void)n;
  }
}

}  // namespace

bool audit_open_file(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) {
    error = "audit log " + path + ": " + std::strerror(errno);
    return false;
  }
  std::lock_guard lock(g_mutex);
  line_writer_flush();  // lines queued for the old fd go out before it closes
  if (g_fd >= 0) ::close(g_fd);
  g_fd = fd;
  return true;
}

void audit_close_file() {
  std::lock_guard lock(g_mutex);
  line_writer_flush();
  if (g_fd >= 0) ::close(g_fd);
  g_fd = -1;
}

void audit_to_stdout(bool enabled) {
  std::lock_guard lock(g_mutex);
  g_stdout = enabled;
}

void append_json_escaped(std::string& out, std::string_view text) {
  // Most text (names, keys, addresses) needs no escape: one append.
  auto plain = [](unsigned char c) { return c >= 0x20 && c != '"' && c != '\\'; };
  std::size_t i = 0;
  while (i < text.size() && plain(static_cast<unsigned char>(text[i]))) ++i;
  out.append(text.data(), i);
  for (; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  append_json_escaped(out, text);
  return out;
}

AuditEvent::AuditEvent(std::string_view event) {
  char stamp[32];
  const std::size_t stamp_len = utc_timestamp(stamp);
  line_.reserve(256);
  line_.append("{\"ts\":\"").append(stamp, stamp_len).append("\",\"event\":\"");
  append_json_escaped(line_, event);
  line_ += '"';
}

void AuditEvent::key(std::string_view k) {
  line_.append(",\"");
  append_json_escaped(line_, k);
  line_.append("\":");
}

AuditEvent& AuditEvent::add(std::string_view k, std::string_view value) {
  key(k);
  line_ += '"';
  append_json_escaped(line_, value);
  line_ += '"';
  return *this;
}

AuditEvent& AuditEvent::add(std::string_view k, std::uint64_t value) {
  key(k);
  line_ += std::to_string(value);
  return *this;
}

AuditEvent& AuditEvent::add(std::string_view k, bool value) {
  key(k);
  line_ += value ? "true" : "false";
  return *this;
}

AuditEvent& AuditEvent::add(std::string_view k, const std::vector<std::string>& values) {
  key(k);
  line_ += "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    line_ += i ? ",\"" : "\"";
    append_json_escaped(line_, values[i]);
    line_ += '"';
  }
  line_ += "]";
  return *this;
}

void AuditEvent::emit() {
  if (emitted_) return;
  emitted_ = true;
  const std::string text = str() + "\n";
  std::lock_guard lock(g_mutex);
  if (g_batches == 0) {
    write_lines(text);
    return;
  }
  g_pending += text;
  if (g_pending.size() >= kPendingMax) {
    write_lines(g_pending);
    g_pending.clear();
  }
}

AuditBatch::AuditBatch() {
  std::lock_guard lock(g_mutex);
  ++g_batches;
}

AuditBatch::~AuditBatch() {
  std::lock_guard lock(g_mutex);
  if (--g_batches > 0) return;
  write_lines(g_pending);
  g_pending.clear();
  g_pending.shrink_to_fit();
}

}  // namespace wghub::ctl
