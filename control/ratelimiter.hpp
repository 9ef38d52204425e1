// Per-source rate limiting of handshake initiations while the hub is under load,
// as the Linux kernel's drivers/net/wireguard/ratelimiter.c: a token bucket per
// source address allowing 20 packets per second with a burst of 5, where a
// source is a whole IPv4 address or an IPv6 /64 (one subscriber's prefix).
//
// Threading: single-threaded. Only the control thread (which runs every
// handshake, DESIGN.md) calls into it, so there are no locks. Time is passed in
// by the caller as monotonic nanoseconds, which makes the clock injectable and
// the tests run in simulated time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "control/source_address.hpp"

namespace wghub::ctl {

class RateLimiter {
 public:
  // ratelimiter.c: PACKETS_PER_SECOND, PACKETS_BURSTABLE, PACKET_COST, TOKEN_MAX.
  static constexpr uint64_t kNsecPerSec = 1'000'000'000;
  static constexpr uint64_t kPacketsPerSecond = 20;
  static constexpr uint64_t kPacketsBurstable = 5;
  static constexpr uint64_t kPacketCostNs = kNsecPerSec / kPacketsPerSecond;
  static constexpr uint64_t kTokenMaxNs = kPacketCostNs * kPacketsBurstable;
  // Entries idle longer than this are dropped; the kernel's gc runs every second
  // and removes entries with now - last_time > NSEC_PER_SEC.
  static constexpr uint64_t kIdleTimeoutNs = kNsecPerSec;
  static constexpr uint64_t kGcIntervalNs = kNsecPerSec;
  // The kernel's bound on a machine with more than 1 GiB of RAM
  // (table_size 8192 * 8 entries).
  static constexpr size_t kDefaultMaxEntries = 65536;

  explicit RateLimiter(size_t max_entries = kDefaultMaxEntries);

  // True if a packet from `src` at monotonic time `now_ns` may be processed.
  // A new source starts with a full burst. The table is bounded: when it holds
  // max_entries sources, a packet from a source not yet in it is refused (as the
  // kernel does), so a flood of spoofed sources cannot grow memory without limit;
  // idle entries are collected once per kGcIntervalNs from inside allow(), so an
  // idle source's entry is gone at most 2 s after its last packet (as with the
  // kernel's once-a-second gc work). Scanning only on that schedule keeps a
  // flood against a full table at O(1) per packet.
  bool allow(const SourceAddress& src, uint64_t now_ns);

  // Removes entries idle for more than kIdleTimeoutNs. allow() calls this on its
  // own once per kGcIntervalNs; callers may also run it from a timer.
  void gc(uint64_t now_ns);

  void clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }
  size_t max_entries() const { return max_entries_; }

 private:
  // The full IPv4 address or the first 64 bits of an IPv6 address.
  struct Key {
    uint64_t prefix;
    SourceAddress::Family family;
    bool operator==(const Key&) const = default;
  };
  // SipHash keyed with a random secret per instance (the kernel uses hsiphash
  // with a random key), so that remote sources cannot aim at one hash bucket.
  struct KeyHash {
    std::array<uint8_t, 16> secret;
    size_t operator()(const Key& key) const;
  };
  struct Entry {
    uint64_t last_time_ns;
    uint64_t tokens_ns;
  };

  static Key key_of(const SourceAddress& src);
  static KeyHash random_hash();

  size_t max_entries_;
  uint64_t next_gc_ns_ = 0;
  std::unordered_map<Key, Entry, KeyHash> entries_;
};

}  // namespace wghub::ctl
