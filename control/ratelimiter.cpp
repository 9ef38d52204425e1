// Token-bucket rate limiter per source; see ratelimiter.hpp. The bucket math is
// the kernel's (ratelimiter.c wg_ratelimiter_allow): tokens are nanoseconds of
// credit, capped at TOKEN_MAX, and each packet costs PACKET_COST.
#include "control/ratelimiter.hpp"

#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>

#include <algorithm>

#include <cstdlib>
#include <cstring>
#include "crypto/random.hpp"

namespace wghub::ctl {

size_t RateLimiter::KeyHash::operator()(const Key& key) const {
  uint8_t input[9];
  std::memcpy(input, &key.prefix, sizeof(key.prefix));
  input[8] = static_cast<uint8_t>(key.family);
  uint8_t out[crypto_shorthash_BYTES];
  crypto_shorthash(out, input, sizeof(input), secret.data());
  uint64_t h;
  std::memcpy(&h, out, sizeof(h));
  return static_cast<size_t>(h);
}

RateLimiter::KeyHash RateLimiter::random_hash() {
  static_assert(crypto_shorthash_KEYBYTES == sizeof(KeyHash::secret));
  KeyHash hash;
  crypto::random_bytes(hash.secret);
  return hash;
}

RateLimiter::RateLimiter(size_t max_entries)
    : max_entries_(max_entries), entries_(0, random_hash()) {}

RateLimiter::Key RateLimiter::key_of(const SourceAddress& src) {
  Key key{0, src.family};
  // IPv4: the whole address; IPv6: only the /64, so that one subscriber cannot
  // escape the limit by cycling through its own prefix (ratelimiter.c).
  const size_t len = src.family == SourceAddress::Family::kIpv4 ? 4 : 8;
  std::memcpy(&key.prefix, src.addr.data(), len);
  return key;
}

bool RateLimiter::allow(const SourceAddress& src, uint64_t now_ns) {
  if (now_ns >= next_gc_ns_) {
    gc(now_ns);
    next_gc_ns_ = now_ns + kGcIntervalNs;
  }

  const Key key = key_of(src);
  if (auto it = entries_.find(key); it != entries_.end()) {
    Entry& e = it->second;
    // A clock that steps back gives no credit instead of wrapping around.
    const uint64_t elapsed = now_ns > e.last_time_ns ? now_ns - e.last_time_ns : 0;
    const uint64_t tokens = std::min(kTokenMaxNs, e.tokens_ns + std::min(elapsed, kTokenMaxNs));
    e.last_time_ns = std::max(now_ns, e.last_time_ns);
    const bool ok = tokens >= kPacketCostNs;
    e.tokens_ns = ok ? tokens - kPacketCostNs : tokens;
    return ok;
  }

  // Bounded table: a full table refuses new sources until gc frees room.
  if (entries_.size() >= max_entries_) return false;
  // A new source gets a full burst, this packet already paid for.
  entries_.emplace(key, Entry{now_ns, kTokenMaxNs - kPacketCostNs});
  return true;
}

void RateLimiter::gc(uint64_t now_ns) {
  std::erase_if(entries_, [now_ns](const auto& item) {
    const uint64_t last = item.second.last_time_ns;
    return now_ns > last && now_ns - last > kIdleTimeoutNs;
  });
}

}  // namespace wghub::ctl
