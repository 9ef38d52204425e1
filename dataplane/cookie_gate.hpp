// The workers' half of WireGuard's DoS defence (whitepaper 5.3 and 5.4.7;
// the kernel's cookie.c and the part of receive.c's
// wg_receive_handshake_packet before the handshake queue). Every handshake
// message must carry a valid mac1 before it may take a slot on a ring. Under
// load, an initiation or response without a valid mac2 is answered here, on
// the worker, with a cookie reply (a few hundred cycles, no X25519); one
// with a valid mac2 passes a per-source rate limit and goes to the proven
// handshake ring, which nothing unproven can fill.
//
// The cookie secret R_m changes every two minutes (whitepaper 5.4.7). The
// control thread draws it and publishes it with RCU: workers read the
// current secret through one acquire load, and an old secret is freed only
// after every worker passed a quiescent state. The mac1 and cookie keys
// derive from the hub's public key, which only a restart changes.
//
// A worker checks a burst's messages together: mac1 and the cookies on 16
// lanes at once, the cookie replies sealed 16 at once (crypto/
// blake2s_lanes.hpp, xchacha_lanes.hpp), every key block compressed once
// per key rather than once per message. The single-message calls are the
// same code with one lane (the control thread's cookie replies, tests).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <span>

#include "crypto/blake2s_lanes.hpp"
#include "crypto/random.hpp"
#include "crypto/secret.hpp"
#include "dataplane/messages.hpp"
#include "dataplane/peer_state.hpp"
#include "dataplane/rcu.hpp"

namespace wghub::dp {

class CookieGate {
 public:
  // `rcu` may be nullptr (no concurrent readers: unit tests).
  CookieGate(std::span<const std::uint8_t, 32> local_public_key, Rcu* rcu, std::uint64_t tsc_hz);
  ~CookieGate();
  CookieGate(const CookieGate&) = delete;
  CookieGate& operator=(const CookieGate&) = delete;

  // Control thread, from its tick: draws a new secret once the current one
  // is kCookieSecretMaxAge old, and frees secrets no worker can still read.
  void rotate_if_due(std::uint64_t now_tsc);
  // Control thread: a new secret now (tests; the first is drawn at creation).
  void rotate(std::uint64_t now_tsc);

  // mac1 = MAC(HASH("mac1----" || our public key), msg up to mac1).
  // `message` is a whole initiation or response.
  bool mac1_valid(std::span<const std::uint8_t> message) const;
  // valid[i] = mac1_valid(messages[i]) for i < n, any n, any mix of lengths.
  void mac1_valid(const std::span<const std::uint8_t>* messages, bool* valid, std::size_t n) const;
  // cookie = MAC(R_m, source IP || port): computed once, then used to check
  // mac2 and, if that fails, to answer.
  using Cookie = crypto::Secret<kCookieLen>;
  void cookie_for(Cookie& out, const Endpoint& from) const;
  // out[i] = cookie_for(from[i]) for i < n, any n, IPv4 and IPv6 mixed.
  void cookies_for(Cookie* out, const Endpoint* const* from, std::size_t n) const;
  // False when mac2 is all zeros: the sender holds no cookie (whitepaper
  // 5.4.4), and no MAC can match but with probability 2^-128.
  static bool carries_mac2(std::span<const std::uint8_t> message);
  // mac2 = MAC(cookie, msg up to mac2).
  bool mac2_valid(std::span<const std::uint8_t> message, const Cookie& cookie) const;
  // The cookie reply answering `message` (whitepaper 5.4.7): the cookie
  // XChaCha20-Poly1305 sealed under HASH("cookie--" || our public key), with
  // the message's mac1 as associated data.
  void make_reply(MessageCookieReply& out, std::span<const std::uint8_t> message,
                  const Cookie& cookie, crypto::RandomBuffer& random) const;
  void make_reply(MessageCookieReply& out, std::span<const std::uint8_t> message,
                  const Endpoint& from, crypto::RandomBuffer& random) const;
  // out[i] answers messages[i] with cookies[i], for i < n (any n).
  void make_replies(MessageCookieReply* out, const std::span<const std::uint8_t>* messages,
                    const Cookie* cookies, std::size_t n, crypto::RandomBuffer& random) const;

 private:
  struct Secret {
    std::array<std::uint8_t, 32> bytes;
    crypto::Blake2sMacKey keyed;  // `bytes` as a MAC key, its key block compressed
    std::uint64_t birth_tsc;
  };
  struct Retired {
    std::uint64_t token;
    Secret* secret;
  };
  static void destroy(Secret* s);

  crypto::Blake2sMacKey mac1_key_;
  std::array<std::uint8_t, 32> cookie_key_{};
  std::atomic<Secret*> current_{nullptr};
  Rcu* rcu_;
  std::uint64_t max_age_cycles_;
  std::deque<Retired> retired_;  // control thread only
};

// Per-source token buckets, one fixed table per worker, direct mapped by a
// keyed SipHash (a source being an IPv4 address or an IPv6 /64, one
// subscriber's prefix): no allocation and O(1) per message. A source that
// collides takes the slot over with a full bucket. Two uses:
//  - the proven handshake messages a worker passes up under load (kernel
//    ratelimiter.c: 20 a second, a burst of 5); they proved with mac2 that
//    they receive at that address, so spoofed sources never get this far;
//  - the cookie replies a worker sends under load (kCookieRepliesPerSecond):
//    what a flood from one address gets back is bounded, and its messages
//    past the budget cost a worker mac1 and a table lookup, no reply. A
//    site needs one cookie per handshake attempt (5 s apart), so the budget
//    leaves room for a few thousand sites behind one CGNAT address.
class SourceLimiter {
 public:
  static constexpr std::uint64_t kPacketsPerSecond = 20;
  static constexpr std::uint64_t kPacketsBurstable = 5;
  static constexpr std::uint64_t kCookieRepliesPerSecond = 1000;
  static constexpr std::uint64_t kCookieRepliesBurstable = 100;
  static constexpr std::size_t kSlots = 4096;

  // The proven-message limit (kPacketsPerSecond, kPacketsBurstable).
  explicit SourceLimiter(std::uint64_t tsc_hz)
      : SourceLimiter(tsc_hz, kPacketsPerSecond, kPacketsBurstable) {}
  SourceLimiter(std::uint64_t tsc_hz, std::uint64_t per_second, std::uint64_t burst);
  bool allow(const Endpoint& from, std::uint64_t now_tsc);

 private:
  struct Slot {
    std::uint64_t key = 0;  // 0 = empty
    std::uint64_t last_tsc = 0;
    std::uint64_t tokens = 0;  // in TSC cycles: one packet costs cost_
  };
  std::uint64_t key_of(const Endpoint& from) const;

  std::array<std::uint8_t, 16> hash_key_{};
  std::uint64_t cost_;        // cycles a packet costs
  std::uint64_t max_tokens_;  // the burst
  std::array<Slot, kSlots> slots_{};
};

// Outer sources that authenticated lately: a peer's endpoint as a handshake
// or a data packet proved it. Under load a handshake message from one of
// them skips the cookie round trip and goes, through the per-source limit,
// to the proven ring: a site that dials in from where the hub knows it gets
// its answer at once instead of after its 5 s retransmit (stock WireGuard
// stores a cookie and waits for its timer). An attacker would have to spoof
// such an address and would still meet the per-source limit. A fixed table
// of keyed hashes of address and port, direct mapped: any thread adds
// (relaxed atomic stores), workers look up; a collision forgets the older
// source, which then takes the cookie round trip.
class KnownSources {
 public:
  static constexpr std::size_t kSlots = 1 << 16;

  KnownSources();
  void add(const Endpoint& from);
  bool contains(const Endpoint& from) const;

 private:
  std::uint64_t key_of(const Endpoint& from) const;

  std::array<std::uint8_t, 16> hash_key_{};
  std::array<std::atomic<std::uint64_t>, kSlots> slots_{};
};

}  // namespace wghub::dp
