// See failsafe.hpp.
#include "control/failsafe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "control/log.hpp"
#include "crypto/blake2s.hpp"
#include "crypto/random.hpp"

namespace wghub::ctl {

// ---- PromiseGate ----

bool PromiseGate::promise(Clock::time_point now, std::chrono::milliseconds ttl) {
  std::lock_guard lock(mutex_);
  if (campaigning_) return false;
  until_ = std::max(until_, now + ttl);
  return true;
}

bool PromiseGate::begin_campaign(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (now < until_) return false;
  campaigning_ = true;
  return true;
}

void PromiseGate::end_campaign() {
  std::lock_guard lock(mutex_);
  campaigning_ = false;
}

PromiseGate::Clock::time_point PromiseGate::promised_until() const {
  std::lock_guard lock(mutex_);
  return until_;
}

// ---- The datagram ----
//   0 "WGFS"  4 version  5 kind  6 node length  7 zero
//   8 nonce[16]  24 time_ns (LE u64)  32 ttl_ms (LE u32)  36 node  then MAC[16]

namespace {

constexpr std::uint8_t kMagic[4] = {'W', 'G', 'F', 'S'};
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kHeader = 36;
constexpr std::size_t kMac = crypto::kMacLen;

void put_le(std::uint8_t* p, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint64_t get_le(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

void mac_of(std::span<const std::uint8_t> body, const FailsafeMessage::Key& key,
            std::uint8_t* out) {
  crypto::blake2s({out, kMac}, body, key);
}

std::uint64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// sockaddr for a config endpoint; the length, 0 for none.
socklen_t to_sockaddr(const config::Endpoint& ep, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (ep.family() == config::Family::v4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(ep.port);
    std::memcpy(&sin->sin_addr, ep.address.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(ep.port);
  std::memcpy(&sin6->sin6_addr, ep.address.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

}  // namespace

std::vector<std::uint8_t> FailsafeMessage::encode(const Key& key) const {
  const std::size_t n = std::min(node.size(), kMaxNode);
  std::vector<std::uint8_t> out(kHeader + n + kMac, 0);
  std::memcpy(out.data(), kMagic, 4);
  out[4] = kVersion;
  out[5] = static_cast<std::uint8_t>(kind);
  out[6] = static_cast<std::uint8_t>(n);
  std::memcpy(out.data() + 8, nonce.data(), kNonceLen);
  put_le(out.data() + 24, time_ns, 8);
  put_le(out.data() + 32, ttl_ms, 4);
  std::memcpy(out.data() + kHeader, node.data(), n);
  mac_of({out.data(), kHeader + n}, key, out.data() + kHeader + n);
  return out;
}

std::optional<FailsafeMessage> FailsafeMessage::decode(std::span<const std::uint8_t> d,
                                                       const Key& key) {
  if (d.size() < kHeader + kMac || std::memcmp(d.data(), kMagic, 4) != 0 || d[4] != kVersion ||
      d[7] != 0)
    return std::nullopt;
  const std::size_t n = d[6];
  if (n > kMaxNode || d.size() != kHeader + n + kMac) return std::nullopt;
  std::uint8_t mac[kMac];
  mac_of(d.first(kHeader + n), key, mac);
  std::uint8_t diff = 0;  // constant time
  for (std::size_t i = 0; i < kMac; ++i) diff |= mac[i] ^ d[kHeader + n + i];
  if (diff != 0) return std::nullopt;
  if (d[5] < static_cast<std::uint8_t>(Kind::request) ||
      d[5] > static_cast<std::uint8_t>(Kind::refusal))
    return std::nullopt;
  FailsafeMessage m;
  m.kind = static_cast<Kind>(d[5]);
  std::memcpy(m.nonce.data(), d.data() + 8, kNonceLen);
  m.time_ns = get_le(d.data() + 24, 8);
  m.ttl_ms = static_cast<std::uint32_t>(get_le(d.data() + 32, 4));
  m.node.assign(reinterpret_cast<const char*>(d.data() + kHeader), n);
  return m;
}

FailsafeMessage::Key FailsafeMessage::derive_key(std::span<const std::uint8_t> private_key) {
  static constexpr char kLabel[] = "wghub failsafe promise key v1";
  Key key{};
  crypto::blake2s(key, {reinterpret_cast<const std::uint8_t*>(kLabel), sizeof kLabel - 1},
                  private_key);
  return key;
}

// ---- Failsafe ----

std::unique_ptr<Failsafe> Failsafe::open(FailsafeOptions options, std::string& error) {
  sockaddr_storage ss;
  const socklen_t len = to_sockaddr(options.listen, ss);
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("failsafe: socket: ") + std::strerror(errno);
    return nullptr;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    error = "failsafe: cannot listen on " + options.listen.to_string() + ": " +
            std::strerror(errno) + " (store.failsafe_listen)";
    ::close(fd);
    return nullptr;
  }
  std::unique_ptr<Failsafe> f(new Failsafe(std::move(options), fd));
  f->thread_ = std::thread([p = f.get()] { p->receive_loop(); });
  return f;
}

Failsafe::Failsafe(FailsafeOptions options, int fd) : options_(std::move(options)), fd_(fd) {
  if (options_.node.size() > FailsafeMessage::kMaxNode)
    options_.node.resize(FailsafeMessage::kMaxNode);
}

Failsafe::~Failsafe() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

config::Endpoint Failsafe::local() const {
  config::Endpoint ep = options_.listen;
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    ep.port = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                            : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ep;
}

FailsafeStatus Failsafe::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

bool Failsafe::round(std::chrono::milliseconds wait, Clock::time_point& sent) {
  const std::size_t n = options_.peers.size();
  if (n == 0) return false;
  std::vector<std::vector<std::uint8_t>> datagrams;
  {
    std::lock_guard lock(mutex_);
    nonces_.assign(n, {});
    answers_.assign(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
      crypto::random_bytes(nonces_[i]);
      FailsafeMessage m;
      m.kind = FailsafeMessage::Kind::request;
      m.nonce = nonces_[i];
      m.time_ns = realtime_ns();
      m.ttl_ms = static_cast<std::uint32_t>(options_.ttl.count());
      m.node = options_.node;
      datagrams.push_back(m.encode(options_.key));
    }
  }
  sent = Clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    sockaddr_storage ss;
    const socklen_t len = to_sockaddr(options_.peers[i], ss);
    (void)::sendto(fd_, datagrams[i].data(), datagrams[i].size(), MSG_DONTWAIT,
                   reinterpret_cast<sockaddr*>(&ss), len);
  }
  std::unique_lock lock(mutex_);
  const bool all = answered_.wait_for(lock, wait, [this] {
    return std::all_of(answers_.begin(), answers_.end(), [](int a) { return a != 0; });
  }) && std::all_of(answers_.begin(), answers_.end(), [](int a) { return a == 1; });
  ++(all ? status_.rounds_ok : status_.rounds_failed);
  nonces_.clear();  // late answers match nothing
  answers_.clear();
  return all;
}

void Failsafe::receive_loop() {
  std::uint8_t buf[256];
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    sockaddr_storage from;
    socklen_t from_len = sizeof from;
    const ssize_t got = ::recvfrom(fd_, buf, sizeof buf, MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&from), &from_len);
    if (got <= 0) continue;
    auto m = FailsafeMessage::decode({buf, static_cast<std::size_t>(got)}, options_.key);
    if (!m) {
      std::lock_guard lock(mutex_);
      ++status_.bad_datagrams;
      continue;
    }
    if (m->kind == FailsafeMessage::Kind::request)
      on_request(*m, &from, from_len);
    else
      on_reply(*m);
  }
}

void Failsafe::on_request(const FailsafeMessage& m, const void* from, unsigned from_len) {
  const std::uint64_t now_ns = realtime_ns();
  const std::uint64_t skew =
      static_cast<std::uint64_t>(std::chrono::nanoseconds(kMaxClockSkew).count());
  {
    std::lock_guard lock(mutex_);
    auto& last = last_request_ns_[m.node];
    const bool skewed = m.time_ns + skew < now_ns || m.time_ns > now_ns + skew;
    if (m.time_ns <= last || skewed || m.node == options_.node) {
      ++status_.bad_datagrams;
      // Authenticated (a hub of the pair), but one line per 10 s at most.
      if (skewed && Clock::now() - last_skew_log_ > std::chrono::seconds(10)) {
        last_skew_log_ = Clock::now();
        log_warn(
            "failsafe: a request from %s is %s; clocks of a pair must agree "
            "within %lld s (NTP); not promising",
            m.node.c_str(), m.time_ns < now_ns ? "old" : "from the future",
            static_cast<long long>(kMaxClockSkew.count()));
      }
      return;
    }
    last = m.time_ns;
  }
  const auto ttl = std::max(options_.ttl, std::chrono::milliseconds(m.ttl_ms));
  const bool granted = gate_.promise(Clock::now(), ttl);
  {
    // Counted before the answer goes out: whoever sees the answer sees the count.
    std::lock_guard lock(mutex_);
    ++(granted ? status_.promises_given : status_.promises_refused);
  }
  FailsafeMessage r;
  r.kind = granted ? FailsafeMessage::Kind::promise : FailsafeMessage::Kind::refusal;
  r.nonce = m.nonce;
  r.node = options_.node;
  const auto d = r.encode(options_.key);
  (void)::sendto(fd_, d.data(), d.size(), MSG_DONTWAIT, static_cast<const sockaddr*>(from),
                 from_len);
}

void Failsafe::on_reply(const FailsafeMessage& m) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < nonces_.size(); ++i) {
    if (nonces_[i] != m.nonce) continue;
    if (answers_[i] == 0) {
      answers_[i] = m.kind == FailsafeMessage::Kind::promise ? 1 : -1;
      answered_.notify_all();
    }
    return;
  }
}

}  // namespace wghub::ctl
