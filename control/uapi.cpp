// The wg(8) userspace API protocol: request framing, set parsing, get
// formatting (see uapi.hpp). Protocol: https://www.wireguard.com/xplatform/;
// keys, order and value rules as in wireguard-go device/uapi.go.
#include "control/uapi.hpp"

#include <cerrno>
#include <charconv>
#include <limits>
#include <utility>

namespace wghub::ctl::uapi {

namespace {

constexpr std::string_view kGetLine = "get=1\n";
constexpr std::string_view kSetLine = "set=1\n";
constexpr char kHex[] = "0123456789abcdef";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Keys are exactly 64 hex digits; wg(8) sends lower case, and both wg(8)'s
// key_from_hex and Go's hex.DecodeString accept either case.
bool hex_to_key(std::string_view text, std::uint8_t* out) {
  if (text.size() != 64) return false;
  bool ok = true;
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = hex_value(text[2 * i]);
    const int lo = hex_value(text[2 * i + 1]);
    // No early exit on a bad digit: the time taken does not depend on
    // where in a secret the first bad digit is.
    ok &= hi >= 0 && lo >= 0;
    out[i] = static_cast<std::uint8_t>(((hi & 0xf) << 4) | (lo & 0xf));
  }
  return ok;
}

// Decimal, digits only (Go strconv.ParseUint: no sign, no spaces), at most max.
template <typename T>
std::optional<T> parse_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  if (v > std::numeric_limits<T>::max()) return std::nullopt;
  return static_cast<T>(v);
}

ParseError fail(std::size_t line, std::string_view key, std::string_view what) {
  ParseError e;
  e.error = EINVAL;
  e.line = line;
  e.message = "line " + std::to_string(line) + ": ";
  if (!key.empty()) e.message += "'" + std::string(key) + "': ";
  e.message += what;
  return e;
}

// Both take only the literal "true" (wireguard-go rejects anything else).
bool is_true(std::string_view value) {
  return value == "true";
}

std::optional<ParseError> parse_device_line(std::size_t line, std::string_view key,
                                            std::string_view value, SetRequest& out) {
  if (key == "private_key") {
    crypto::Key k;
    if (!hex_to_key(value, k.data())) return fail(line, key, "expected 64 hex digits");
    out.private_key = std::move(k);
  } else if (key == "listen_port") {
    const auto port = parse_number<std::uint16_t>(value);
    if (!port) return fail(line, key, "expected a number 0..65535");
    out.listen_port = *port;
  } else if (key == "fwmark") {
    const auto mark = parse_number<std::uint32_t>(value);
    if (!mark) return fail(line, key, "expected a number 0..4294967295");
    out.fwmark = *mark;
  } else if (key == "replace_peers") {
    if (!is_true(value)) return fail(line, key, "the only value is 'true'");
    out.replace_peers = true;
  } else {
    // The key itself is not echoed: messages carry no request bytes.
    return fail(line, {}, "unknown device key (peer keys follow a public_key line)");
  }
  return std::nullopt;
}

std::optional<ParseError> parse_peer_line(std::size_t line, std::string_view key,
                                          std::string_view value, PeerChange& peer) {
  if (key == "remove") {
    if (!is_true(value)) return fail(line, key, "the only value is 'true'");
    peer.remove = true;
  } else if (key == "update_only") {
    if (!is_true(value)) return fail(line, key, "the only value is 'true'");
    peer.update_only = true;
  } else if (key == "preshared_key") {
    crypto::Key k;
    if (!hex_to_key(value, k.data())) return fail(line, key, "expected 64 hex digits");
    peer.preshared_key = std::move(k);
  } else if (key == "endpoint") {
    // IP literals only, as wg(8) sends them (it resolves names itself):
    // "a.b.c.d:port" or "[v6]:port".
    auto ep = config::Endpoint::parse(value);
    if (!ep) return fail(line, key, "expected ip:port or [ipv6]:port with port 1..65535");
    peer.endpoint = *ep.value;
  } else if (key == "persistent_keepalive_interval") {
    const auto secs = parse_number<std::uint16_t>(value);
    if (!secs) return fail(line, key, "expected a number of seconds 0..65535");
    peer.persistent_keepalive = *secs;
  } else if (key == "replace_allowed_ips") {
    if (!is_true(value)) return fail(line, key, "the only value is 'true'");
    // wireguard-go acts on lines in order: earlier allowed_ip lines of this
    // block are gone once the replace runs.
    peer.replace_allowed_ips = true;
    peer.allowed_ips.clear();
  } else if (key == "allowed_ip") {
    AllowedIpChange change;
    if (!value.empty() && value.front() == '-') {
      change.remove = true;
      value.remove_prefix(1);
    }
    // "/len" is required (Go netip.ParsePrefix). Host bits are masked off as
    // the kernel does, since wg(8) passes what the operator typed.
    auto cidr = config::parse_cidr(value, /*allow_bare=*/false);
    if (!cidr) return fail(line, key, "expected address/length, optionally prefixed by '-'");
    change.prefix = cidr.value->subnet();
    peer.allowed_ips.push_back(change);
  } else if (key == "protocol_version") {
    if (value != "1") return fail(line, key, "only version 1 exists");
  } else {
    return fail(line, {}, "unknown peer key");
  }
  return std::nullopt;
}

}  // namespace

Frame frame_request(std::string_view buffer, std::size_t& scan_from) {
  Frame f;
  // The operation line: "get=1" or "set=1" (xplatform: both at version 1).
  const std::size_t head = std::min(buffer.size(), kGetLine.size());
  const bool get = buffer.substr(0, head) == kGetLine.substr(0, head);
  const bool set = buffer.substr(0, head) == kSetLine.substr(0, head);
  if (!get && !set) {
    f.kind = FrameKind::malformed;
    return f;
  }
  if (buffer.size() < kGetLine.size()) return f;  // incomplete
  if (get) {
    // "get=1\n\n": nothing may come between the two (wireguard-go
    // rejects a trailing character).
    if (buffer.size() < kGetLine.size() + 1) return f;
    if (buffer[kGetLine.size()] != '\n') {
      f.kind = FrameKind::malformed;
      return f;
    }
    f.kind = FrameKind::get;
    f.length = kGetLine.size() + 1;
    scan_from = 0;
    return f;
  }
  // A set ends at the first empty line; the op line's own '\n' may be the
  // first half of the pair (an empty set).
  const std::size_t first = kSetLine.size() - 1;
  const std::size_t from = std::max(first, scan_from);
  const std::size_t pos = buffer.find("\n\n", from);
  if (pos == std::string_view::npos) {
    scan_from = std::max(first, buffer.size() - 1);
    return f;
  }
  f.kind = FrameKind::set;
  f.length = pos + 2;
  f.body = buffer.substr(kSetLine.size(), pos + 1 - kSetLine.size());
  scan_from = 0;
  return f;
}

namespace {

std::optional<ParseError> parse_lines(std::string_view body, SetRequest& out) {
  std::size_t line_no = 0;
  while (!body.empty()) {
    ++line_no;
    const std::size_t nl = body.find('\n');
    if (nl == std::string_view::npos) return fail(line_no, {}, "line does not end in a newline");
    const std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl + 1);
    if (line.empty()) return fail(line_no, {}, "empty line inside the request");
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) return fail(line_no, {}, "expected key=value");
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);

    if (key == "public_key") {
      // Starts a peer block; everything after it is about peers
      // (xplatform: device keys come first).
      PeerChange peer;
      if (!hex_to_key(value, peer.public_key.data())) {
        return fail(line_no, key, "expected 64 hex digits");
      }
      out.peers.push_back(std::move(peer));
      continue;
    }
    std::optional<ParseError> err = out.peers.empty()
                                        ? parse_device_line(line_no, key, value, out)
                                        : parse_peer_line(line_no, key, value, out.peers.back());
    if (err) return err;
  }
  return std::nullopt;
}

}  // namespace

std::optional<ParseError> parse_set(std::string_view body, SetRequest& out) {
  out = SetRequest{};
  auto err = parse_lines(body, out);
  if (err) out = SetRequest{};  // all or nothing; wipes any key parsed so far
  return err;
}

std::string key_to_hex(const PublicKey& key) {
  std::string s(64, '0');
  for (std::size_t i = 0; i < key.size(); ++i) {
    s[2 * i] = kHex[key[i] >> 4];
    s[2 * i + 1] = kHex[key[i] & 0xf];
  }
  return s;
}

namespace {

void line(std::string& out, std::string_view key, std::string_view value) {
  out.append(key);
  out.push_back('=');
  out.append(value);
  out.push_back('\n');
}

void line(std::string& out, std::string_view key, std::uint64_t value) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  line(out, key, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

}  // namespace

void append_get_device(const DeviceStatus& status, std::string& out) {
  // No private_key line: key hygiene (issue 7); see uapi.hpp.
  if (status.listen_port != 0) line(out, "listen_port", status.listen_port);
  if (status.fwmark != 0) line(out, "fwmark", status.fwmark);
}

void append_get_peers(const std::vector<PeerStatus>& peers, std::string& out) {
  out.reserve(out.size() + peers.size() * 320);
  for (const PeerStatus& p : peers) {
    line(out, "public_key", key_to_hex(p.public_key));
    // No preshared_key line either.
    line(out, "protocol_version", "1");
    if (p.endpoint) line(out, "endpoint", p.endpoint->to_string());
    line(out, "last_handshake_time_sec", p.last_handshake_sec);
    line(out, "last_handshake_time_nsec", p.last_handshake_nsec);
    line(out, "tx_bytes", p.tx_bytes);
    line(out, "rx_bytes", p.rx_bytes);
    line(out, "persistent_keepalive_interval", p.persistent_keepalive);
    for (const AllowedIp& ip : p.allowed_ips) line(out, "allowed_ip", ip.to_string());
  }
}

std::string format_get(const DeviceStatus& status) {
  std::string out;
  append_get_device(status, out);
  append_get_peers(status.peers, out);
  out.append(format_errno(0));
  return out;
}

std::string format_errno(int positive_errno) {
  if (positive_errno == 0) return "errno=0\n\n";
  return "errno=-" + std::to_string(positive_errno) + "\n\n";
}

}  // namespace wghub::ctl::uapi
