// See uapi_client.hpp.
#include "control/uapi_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace wghub::ctl::uapi {

namespace {

constexpr int kTimeoutMs = 5000;  // a hub answers within a control-loop pass
constexpr std::size_t kMaxReply = std::size_t{64} << 20;

bool parse_u64(std::string_view s, std::uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<PublicKey> key_from_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  PublicKey key{};
  for (std::size_t i = 0; i < 32; ++i) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
    if (ec != std::errc() || p != hex.data() + 2 * i + 2) return std::nullopt;
    key[i] = static_cast<std::uint8_t>(v);
  }
  return key;
}

std::optional<ClientReply> exchange(const std::string& socket_path, const std::string& request,
                                    std::string& error, bool* no_server) {
  if (no_server != nullptr) *no_server = false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    error = socket_path + ": path too long";
    return std::nullopt;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return std::nullopt;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    if (no_server != nullptr) *no_server = e == ENOENT || e == ECONNREFUSED;
    error = socket_path + ": " + std::strerror(e);
    return std::nullopt;
  }
  ClientReply reply;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) reply.server_pid = cred.pid;

  for (std::size_t done = 0; done < request.size();) {
    const ssize_t n = ::send(fd, request.data() + done, request.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = socket_path + ": send: " + std::strerror(errno);
      return std::nullopt;
    }
    done += static_cast<std::size_t>(n);
  }
  char buf[16384];
  while (reply.text.size() < 2 || reply.text.compare(reply.text.size() - 2, 2, "\n\n") != 0) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, kTimeoutMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      error = socket_path + ": no reply within 5 s";
      return std::nullopt;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = socket_path + ": the reply ended early";
      return std::nullopt;
    }
    reply.text.append(buf, static_cast<std::size_t>(n));
    if (reply.text.size() > kMaxReply) {
      error = socket_path + ": reply too large";
      return std::nullopt;
    }
  }
  // The last line before the blank one is errno=N (negative in the reply).
  const std::size_t at = reply.text.rfind("errno=");
  std::int64_t e = 0;
  if (at == std::string::npos) {
    error = socket_path + ": the reply has no errno line";
    return std::nullopt;
  }
  const std::string_view v(reply.text.data() + at + 6, reply.text.size() - at - 8);
  std::from_chars(v.data(), v.data() + v.size(), e);
  reply.error = static_cast<int>(e < 0 ? -e : e);
  return reply;
}

std::optional<DeviceStatus> parse_get_reply(const std::string& text, std::string& error) {
  DeviceStatus status;
  PeerStatus* peer = nullptr;
  std::size_t pos = 0;
  std::size_t line_no = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.empty()) break;
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      error = "reply line " + std::to_string(line_no) + " has no '='";
      return std::nullopt;
    }
    const std::string_view k = line.substr(0, eq);
    const std::string_view v = line.substr(eq + 1);
    std::uint64_t n = 0;
    bool ok = true;
    if (k == "public_key") {
      auto key = key_from_hex(v);
      ok = key.has_value();
      if (ok) {
        status.peers.emplace_back();
        peer = &status.peers.back();
        peer->public_key = *key;
      }
    } else if (k == "listen_port") {
      ok = parse_u64(v, n);
      status.listen_port = static_cast<std::uint16_t>(n);
    } else if (peer == nullptr) {
      continue;  // other device keys (fwmark, errno)
    } else if (k == "endpoint") {
      auto ep = config::Endpoint::parse(v);
      ok = static_cast<bool>(ep);
      if (ok) peer->endpoint = *ep.value;
    } else if (k == "last_handshake_time_sec") {
      ok = parse_u64(v, peer->last_handshake_sec);
    } else if (k == "last_handshake_time_nsec") {
      ok = parse_u64(v, peer->last_handshake_nsec);
    } else if (k == "rx_bytes") {
      ok = parse_u64(v, peer->rx_bytes);
    } else if (k == "tx_bytes") {
      ok = parse_u64(v, peer->tx_bytes);
    } else if (k == "persistent_keepalive_interval") {
      ok = parse_u64(v, n);
      peer->persistent_keepalive = static_cast<std::uint16_t>(n);
    } else if (k == "allowed_ip") {
      auto prefix = config::Prefix::parse(v);
      ok = static_cast<bool>(prefix);
      if (ok) peer->allowed_ips.push_back(*prefix.value);
    }
    if (!ok) {
      error = "reply line " + std::to_string(line_no) + ": bad value for " + std::string(k);
      return std::nullopt;
    }
  }
  return status;
}

}  // namespace wghub::ctl::uapi
