// The audit log: one JSON object per line for every change an operator or a
// site makes to the hub's state — configuration applied or refused, peers
// added / removed / changed, handshakes completed or failed (with the
// endpoint), under-load entered and left. Written to stdout and, when opened,
// appended to a file (fsync'd per line is not needed: the OS page cache is
// enough for an audit trail that survives the process). Public keys may
// appear; private and preshared keys never do — no call takes one.
//
//   AuditEvent("peer_added").add("peer", name).add("public_key", b64).emit();
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wghub::ctl {

// Appends audit lines to `path` as well as stdout (mode 0640, created if
// missing). False with a message when it cannot be opened.
bool audit_open_file(const std::string& path, std::string& error);
void audit_close_file();
// Every line also goes to stdout unless disabled (tests).
void audit_to_stdout(bool enabled);

class AuditEvent {
 public:
  explicit AuditEvent(std::string_view event);
  AuditEvent& add(std::string_view key, std::string_view value);
  AuditEvent& add(std::string_view key, const char* value) {
    return add(key, std::string_view(value));
  }
  AuditEvent& add(std::string_view key, std::uint64_t value);
  AuditEvent& add(std::string_view key, bool value);
  AuditEvent& add(std::string_view key, const std::vector<std::string>& values);
  // Writes the line (once).
  void emit();
  // The line as it would be written, without the newline (tests).
  std::string str() const { return line_ + "}"; }

 private:
  void key(std::string_view k);
  std::string line_;
  bool emitted_ = false;
};

// While one is alive, lines are gathered and written when the last one ends
// (or every 256 KiB): one write of whole lines instead of a flush per line.
// The start's 10^5 peer_added lines took ~0.3 s flushed one by one. Lines stay
// whole and in order; a line's ts is still when it was made.
class AuditBatch {
 public:
  AuditBatch();
  ~AuditBatch();
  AuditBatch(const AuditBatch&) = delete;
  AuditBatch& operator=(const AuditBatch&) = delete;
};

// JSON string escaping (RFC 8259 section 7), exposed for tests.
std::string json_escape(std::string_view text);
// The same, appended to `out` (no temporary string).
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace wghub::ctl
