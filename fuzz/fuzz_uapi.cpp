// Fuzz target: the wg(8) userspace API protocol half: frame_request on a
// byte stream (whole, and resumed after a prefix as the server does with
// `scan_from`, which must give the same frame), then parse_set on every set
// body. Key hygiene: a parse error's message never contains the value of a
// private_key or preshared_key line (64 hex digits, as keys are sent).
//
// Input: [split][stream...]: the stream arrives in two reads, the first
// `split` bytes long.
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "control/uapi.hpp"
#include "fuzz/fuzz_common.hpp"

namespace {

using namespace wghub::ctl::uapi;
using wghub::fuzz::check;

// 64 hex digits: how the protocol sends a key. (Only such values are checked:
// the fuzzer happily makes a "key" out of the text of an error message.)
bool is_hex_key(std::string_view v) {
  if (v.size() != 64) return false;
  for (const char c : v)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// The values of secret-bearing lines of a set body.
std::vector<std::string_view> secret_values(std::string_view body) {
  std::vector<std::string_view> out;
  while (!body.empty()) {
    const auto nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1);
    for (std::string_view key : {"private_key=", "preshared_key="})
      if (line.starts_with(key) && is_hex_key(line.substr(key.size())))
        out.push_back(line.substr(key.size()));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string stream(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view rest = stream;
  for (int requests = 0; requests < 16 && !rest.empty(); ++requests) {
    std::size_t scan = 0;
    const Frame whole = frame_request(rest, scan);

    // The same buffer in two reads: a prefix first, then all of it.
    const std::size_t split = std::min<std::size_t>(data[0], rest.size());
    std::size_t resumed_scan = 0;
    const Frame first = frame_request(rest.substr(0, split), resumed_scan);
    if (first.kind == FrameKind::incomplete) {
      check(resumed_scan <= split, "scan_from past the buffer");
      const Frame again = frame_request(rest, resumed_scan);
      check(again.kind == whole.kind && again.length == whole.length && again.body == whole.body,
            "resuming with scan_from changed the frame");
    }

    if (whole.kind == FrameKind::incomplete || whole.kind == FrameKind::malformed) break;
    check(whole.length > 0 && whole.length <= rest.size(), "frame length outside the buffer");
    check(
        whole.body.empty() || (whole.body.data() >= rest.data() &&
                               whole.body.data() + whole.body.size() <= rest.data() + whole.length),
        "frame body outside the request");
    if (whole.kind == FrameKind::set) {
      SetRequest req;
      const auto err = parse_set(whole.body, req);
      wghub::fuzz::trace("set: %s, %zu peers\n", err ? err->message.c_str() : "ok",
                         req.peers.size());
      if (err) {
        check(err->error > 0, "parse error without an errno");
        for (std::string_view v : secret_values(whole.body))
          check(err->message.find(v) == std::string::npos, "a secret in a parse error message");
        (void)format_errno(err->error);
      }
    }
    rest.remove_prefix(whole.length);
  }
  return 0;
}
