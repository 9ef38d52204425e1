// wghub-initiation-flood: a handshake flood generator for the resilience lab
// test (tests/interop/resilience_lab_test.sh). It uses wghub's protocol core:
// create_initiation (control/noise.hpp) with a random static key the hub does
// not know, and CookieMaker (control/cookie.hpp) keyed with the hub's public
// key, so every initiation carries a valid mac1 but fails Noise at the hub
// (unknown peer) after costing it a Diffie-Hellman.
//
//   flood sockets (--sockets N, one source port each): a pool of precomputed
//     initiations with mac1 and no mac2, sent round robin at --rate packets
//     per second (0: as fast as possible) for --duration seconds. Under load
//     the hub answers each with a cookie reply; they are counted, not used.
//   proven source (one more socket, unless --proven-rate 0): sends an
//     initiation with mac1 every 100 ms until a cookie reply answers it,
//     consumes the cookie, then sends initiations with a valid mac2 at
//     --proven-rate per second from the same address and port, which the hub
//     rate limits (20/s, burst 5 per source address) while under load.
//
// Plain UDP sockets (sendmmsg), no spoofing: run it inside a lab namespace.
// It prints one summary line:
//   flood: sent N (mac1-only M, with mac2 K) in T s = R/s; cookie replies C
//   (flood C1, proven C2); proven cookie yes|no
// Exit 0 when it ran, 1 on a socket error, 2 on a usage error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "control/clock.hpp"
#include "control/cookie.hpp"
#include "control/noise.hpp"
#include "crypto/base64.hpp"
#include "crypto/random.hpp"
#include "dataplane/messages.hpp"
#include "perf/common/tool_args.hpp"
#include "perf/common/udp_peer.hpp"

namespace {

using namespace wghub;
using ctl::Clock;
using Msg = std::array<std::uint8_t, dp::kMessageInitiationSize>;

void usage(FILE* to) {
  std::fprintf(to,
               "usage: wghub-initiation-flood --target IP:PORT --hub-public-key BASE64 [options]\n"
               "  --rate N          mac1-only initiations per second, 0 = as fast as possible"
               " (default 0)\n"
               "  --duration S      seconds to send (default 10)\n"
               "  --sockets N       flood source sockets / ports (default 8)\n"
               "  --pool N          distinct precomputed initiations (default 256)\n"
               "  --proven-rate N   mac2 initiations per second from the proven source"
               " (default 200, 0 = no proven source)\n"
               "  --proven-from IP  the proven source's address (default: the flood's;\n"
               "                    the hub's per-address cookie budget is then shared\n"
               "                    with the flood)\n");
}

struct Options {
  std::string target, hub_public_key;
  double rate = 0;
  double duration_s = 10;
  int sockets = 8;
  int pool = 256;
  double proven_rate = 200;
  std::string proven_from;
};

std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  if (!tools::ToolArgs("initiation_flood", usage)
           .option("--target", o.target)
           .option("--hub-public-key", o.hub_public_key)
           .option("--rate", o.rate)
           .option("--duration", o.duration_s)
           .option("--sockets", o.sockets)
           .option("--pool", o.pool)
           .option("--proven-rate", o.proven_rate)
           .option("--proven-from", o.proven_from)
           .parse(argc, argv))
    return std::nullopt;
  if (o.target.empty() || o.hub_public_key.empty() || o.rate < 0 || o.duration_s <= 0 ||
      o.sockets < 1 || o.sockets > 1024 || o.pool < 1 || o.proven_rate < 0)
    return std::nullopt;
  return o;
}

// A connected, non-blocking UDP socket on an ephemeral port (of `from`, an
// address of this namespace, when given).
int open_socket(const sockaddr_in& target, const std::string& from = {}) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (!from.empty()) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (inet_pton(AF_INET, from.c_str(), &local.sin_addr) != 1 ||
        bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
      close(fd);
      return -1;
    }
  }
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::span<std::uint8_t> bytes(Msg& m) {
  return {m.data(), m.size()};
}

// Drains a socket; counts cookie replies, and hands each to `on_reply`.
template <typename F>
std::uint64_t drain(int fd, F&& on_reply) {
  std::uint64_t n = 0;
  constexpr unsigned kBatch = 64;
  std::array<std::array<std::uint8_t, 256>, kBatch> bufs;
  std::array<iovec, kBatch> iov;
  std::array<mmsghdr, kBatch> msgs;
  for (;;) {
    for (unsigned i = 0; i < kBatch; ++i) {
      iov[i] = {bufs[i].data(), bufs[i].size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int got = recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (got <= 0) return n;
    for (int i = 0; i < got; ++i) {
      if (msgs[i].msg_len != dp::kMessageCookieReplySize) continue;
      const auto& reply = *reinterpret_cast<const dp::MessageCookieReply*>(bufs[i].data());
      if (reply.header.message_type() != dp::MessageType::kCookieReply) continue;
      ++n;
      on_reply(reply);
    }
  }
}

// Sends `count` messages from `pool` starting at `*next` on fd; returns how
// many the kernel took.
std::uint64_t send_batch(int fd, std::vector<Msg>& pool, std::size_t* next, unsigned count) {
  constexpr unsigned kBatch = 64;
  std::array<iovec, kBatch> iov;
  std::array<mmsghdr, kBatch> msgs;
  count = std::min(count, kBatch);
  for (unsigned i = 0; i < count; ++i) {
    Msg& m = pool[(*next + i) % pool.size()];
    iov[i] = {m.data(), m.size()};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int sent = sendmmsg(fd, msgs.data(), count, MSG_DONTWAIT);
  if (sent <= 0) return 0;
  *next = (*next + static_cast<unsigned>(sent)) % pool.size();
  return static_cast<std::uint64_t>(sent);
}

}  // namespace

int main(int argc, char** argv) {
  auto opt = parse_args(argc, argv);
  if (!opt) {
    usage(stderr);
    return 2;
  }
  auto hub_key = crypto::key_from_base64(opt->hub_public_key);
  auto target = udppeer::parse_endpoint(opt->target);
  if (!hub_key || !target) {
    std::fprintf(stderr, "flood: bad --hub-public-key or --target\n");
    return 2;
  }

  // A random static identity the hub does not know: Noise fails after mac1.
  std::array<std::uint8_t, 32> priv;
  crypto::random_bytes(priv);
  udppeer::Handshaker flood(udppeer::identity_from(priv), *hub_key);

  // Precompute the pool: distinct ephemerals and sender indices, mac1 only
  // (this handshaker never gets a cookie).
  std::vector<Msg> pool(static_cast<std::size_t>(opt->pool));
  for (auto& m : pool) {
    dp::MessageInitiation msg{};
    if (flood.create_initiation(msg, Clock::now()) != ctl::NoiseError::kOk) {
      std::fprintf(stderr, "flood: create_initiation failed\n");
      return 1;
    }
    std::memcpy(m.data(), &msg, m.size());
  }

  std::vector<int> fds;
  for (int i = 0; i < opt->sockets; ++i) {
    int fd = open_socket(*target);
    if (fd < 0) {
      std::perror("flood: socket");
      return 1;
    }
    fds.push_back(fd);
  }
  const bool with_proven = opt->proven_rate > 0;
  int proven_fd = -1;
  if (with_proven && (proven_fd = open_socket(*target, opt->proven_from)) < 0) {
    std::perror("flood: socket");
    return 1;
  }

  // The proven source: its own maker (it keeps the cookie) and pool.
  ctl::CookieMaker proven_maker(*hub_key);
  std::vector<Msg> proven_pool(pool.begin(), pool.begin() + std::min<std::size_t>(pool.size(), 32));
  Msg probe = pool[0];
  bool have_cookie = false;
  std::uint64_t proven_cookie_replies = 0, proven_sent = 0, probes_sent = 0;
  std::size_t proven_next = 0;

  std::uint64_t sent = 0, flood_cookie_replies = 0;
  std::size_t next = 0, fd_turn = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(opt->duration_s));
  auto next_probe = start;
  double flood_credit = 0, proven_credit = 0;
  auto last = start;
  for (;;) {
    const auto now = Clock::now();
    if (now >= end) break;
    const double dt = std::chrono::duration<double>(now - last).count();
    last = now;

    // Flood: as fast as possible, or paced by a token bucket (bounded burst).
    unsigned want = 64;
    if (opt->rate > 0) {
      flood_credit = std::min(flood_credit + dt * opt->rate, std::max(64.0, opt->rate / 100));
      want = static_cast<unsigned>(std::min(flood_credit, 64.0));
    }
    if (want > 0) {
      const std::uint64_t n = send_batch(fds[fd_turn], pool, &next, want);
      sent += n;
      flood_credit -= static_cast<double>(n);
      if (flood_credit < 0) flood_credit = 0;
    }
    // One socket per round: sends and drains take turns over the sockets.
    flood_cookie_replies += drain(fds[fd_turn], [](const dp::MessageCookieReply&) {});
    fd_turn = (fd_turn + 1) % fds.size();

    if (with_proven) {
      proven_cookie_replies += drain(proven_fd, [&](const dp::MessageCookieReply& reply) {
        if (have_cookie) return;
        if (proven_maker.consume_cookie_reply(reply, now)) {
          have_cookie = true;
          // Every message from now on carries mac2 = MAC(cookie, ...).
          for (auto& m : proven_pool) proven_maker.add_macs(bytes(m), now);
          std::printf("flood: proven source got a cookie after %.2f s\n",
                      std::chrono::duration<double>(now - start).count());
          std::fflush(stdout);
        }
      });
      if (!have_cookie) {
        if (now >= next_probe) {
          next_probe = now + std::chrono::milliseconds(100);
          proven_maker.add_macs(bytes(probe), now);  // remembers this mac1
          if (send(proven_fd, probe.data(), probe.size(), MSG_DONTWAIT) > 0) ++probes_sent;
        }
      } else {
        proven_credit = std::min(proven_credit + dt * opt->proven_rate, 64.0);
        if (proven_credit >= 1) {
          const std::uint64_t n = send_batch(proven_fd, proven_pool, &proven_next,
                                             static_cast<unsigned>(proven_credit));
          proven_sent += n;
          proven_credit -= static_cast<double>(n);
        }
      }
    }
    if (opt->rate > 0 || want == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  // Late cookie replies.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int fd : fds) flood_cookie_replies += drain(fd, [](const dp::MessageCookieReply&) {});
  if (with_proven) proven_cookie_replies += drain(proven_fd, [](const dp::MessageCookieReply&) {});

  const double secs = std::chrono::duration<double>(end - start).count();
  const std::uint64_t total = sent + proven_sent + probes_sent;
  std::printf(
      "flood: sent %llu (mac1-only %llu, with mac2 %llu) in %.1f s = %.0f/s; cookie replies %llu "
      "(flood %llu, proven %llu); proven cookie %s\n",
      static_cast<unsigned long long>(total), static_cast<unsigned long long>(sent + probes_sent),
      static_cast<unsigned long long>(proven_sent), secs, static_cast<double>(total) / secs,
      static_cast<unsigned long long>(flood_cookie_replies + proven_cookie_replies),
      static_cast<unsigned long long>(flood_cookie_replies),
      static_cast<unsigned long long>(proven_cookie_replies),
      !with_proven  ? "n/a"
      : have_cookie ? "yes"
                    : "no");
  for (int fd : fds) close(fd);
  if (proven_fd >= 0) close(proven_fd);
  return 0;
}
