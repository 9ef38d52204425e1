// Failsafe mode (docs/ha.md "etcd lost under a pair"): keeping a pair
// answering when etcd itself is gone, without ever two hubs answering.
//
// The active hub that cannot renew its lease asks every other hub of the
// group (store.failsafe_peers, over the management network) to promise not to
// campaign for one lease TTL. Only when all of them promise does it go on
// answering, until (when it sent the requests) + TTL - margin by its own
// clock. A hub that promised does not campaign until (when it received the
// request) + TTL by its clock, which is later; and a hub that is campaigning
// or holds the lease promises nothing. So at any instant at most one hub may
// answer: the holder of the lease, or the one all others promised to.
//
// The messages are UDP datagrams authenticated with a key derived from the
// hub's private key, which every hub of a pair shares (the sites know one
// public key): keyed BLAKE2s-128 over the whole datagram. A reply echoes the
// request's random nonce; a request carries the sender's wall-clock time,
// which must grow per sender and lie within kMaxClockSkew of the receiver's,
// so a recorded request cannot be replayed to hold a standby back.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "config/endpoint.hpp"

namespace wghub::ctl {

// The promise side, no sockets (tests drive it with their own times). Any
// thread; one mutex.
class PromiseGate {
 public:
  using Clock = std::chrono::steady_clock;
  // Asked by the active hub: promise not to campaign before now + ttl. Refused
  // (false) while this hub campaigns or holds the lease.
  bool promise(Clock::time_point now, std::chrono::milliseconds ttl);
  // Before a campaign: false while a promise runs. True marks this hub as
  // campaigning (it promises nothing) until end_campaign().
  bool begin_campaign(Clock::time_point now);
  // The campaign was lost, failed, or the lease held since is gone.
  void end_campaign();
  Clock::time_point promised_until() const;

 private:
  mutable std::mutex mutex_;
  Clock::time_point until_{};
  bool campaigning_ = false;
};

// The datagrams (both kinds share one layout).
struct FailsafeMessage {
  enum class Kind : std::uint8_t { request = 1, promise = 2, refusal = 3 };
  static constexpr std::size_t kNonceLen = 16;
  static constexpr std::size_t kMaxNode = 64;
  Kind kind = Kind::request;
  std::array<std::uint8_t, kNonceLen> nonce{};
  std::uint64_t time_ns = 0;  // request: the sender's CLOCK_REALTIME
  std::uint32_t ttl_ms = 0;   // request: how long the promise is asked for
  std::string node;           // the sender's node name

  using Key = std::array<std::uint8_t, 32>;
  std::vector<std::uint8_t> encode(const Key& key) const;
  // nullopt: too short, bad magic or version, or the MAC does not verify.
  static std::optional<FailsafeMessage> decode(std::span<const std::uint8_t> datagram,
                                               const Key& key);
  // BLAKE2s(label, key = the hub's private key): the pair's shared MAC key.
  static Key derive_key(std::span<const std::uint8_t> private_key);
};

struct FailsafeOptions {
  config::Endpoint listen;              // store.failsafe_listen
  std::vector<config::Endpoint> peers;  // store.failsafe_peers: every other hub
  std::string node;                     // this hub's node name
  std::chrono::milliseconds ttl{2000};  // the lease TTL: what a promise lasts
  FailsafeMessage::Key key{};
};

struct FailsafeStatus {
  std::uint64_t rounds_ok = 0;         // rounds in which every peer promised
  std::uint64_t rounds_failed = 0;     // rounds in which one did not (in time)
  std::uint64_t promises_given = 0;    // requests this hub promised
  std::uint64_t promises_refused = 0;  // requests refused (campaigning or leading)
  std::uint64_t bad_datagrams = 0;     // MAC, format, replayed or skewed requests
};

class Failsafe {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kMaxClockSkew{10};
  // Binds the listen address and starts the receive thread; nullptr with
  // `error` set when the socket cannot be made.
  static std::unique_ptr<Failsafe> open(FailsafeOptions options, std::string& error);
  ~Failsafe();
  Failsafe(const Failsafe&) = delete;
  Failsafe& operator=(const Failsafe&) = delete;

  // Asks every peer for a promise and waits up to `wait` for all of them.
  // True when all promised; `sent` is when the requests went out (the
  // answering deadline counts from it). No peers: false (nothing to ask).
  bool round(std::chrono::milliseconds wait, Clock::time_point& sent);
  PromiseGate& gate() { return gate_; }
  FailsafeStatus status() const;
  std::size_t peer_count() const { return options_.peers.size(); }
  // The address bound (its port, when failsafe_listen gave port 0: tests).
  config::Endpoint local() const;

 private:
  Failsafe(FailsafeOptions options, int fd);
  void receive_loop();
  void on_request(const FailsafeMessage& m, const void* from, unsigned from_len);
  void on_reply(const FailsafeMessage& m);

  FailsafeOptions options_;
  int fd_ = -1;
  PromiseGate gate_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::condition_variable answered_;
  // The round in progress: each peer's nonce and whether it promised.
  std::vector<std::array<std::uint8_t, FailsafeMessage::kNonceLen>> nonces_;
  std::vector<int> answers_;                              // 0 none yet, 1 promised, -1 refused
  std::map<std::string, std::uint64_t> last_request_ns_;  // per sender: replay guard
  FailsafeStatus status_;
  Clock::time_point last_skew_log_{};
};

}  // namespace wghub::ctl
