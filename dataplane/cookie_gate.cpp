// The workers' DoS gate; see cookie_gate.hpp.
#include "dataplane/cookie_gate.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string_view>

#include "crypto/blake2s.hpp"
#include "crypto/secret.hpp"
#include "crypto/xchacha_lanes.hpp"

namespace wghub::dp {

namespace {

constexpr std::string_view kLabelMac1 = "mac1----";
constexpr std::string_view kLabelCookie = "cookie--";
constexpr std::size_t kMacsLen = sizeof(MessageMacs);
// sender_index sits at the same offset in initiations and responses.
constexpr std::size_t kSenderIndexOffset = offsetof(MessageInitiation, sender_index);
static_assert(kSenderIndexOffset == offsetof(MessageResponse, sender_index));

// HASH(label || public key) (whitepaper 5.4.4, 5.4.7).
void derive_key(std::array<std::uint8_t, 32>& key, std::string_view label,
                std::span<const std::uint8_t, 32> public_key) {
  crypto::Blake2s hash;
  hash.update({reinterpret_cast<const std::uint8_t*>(label.data()), label.size()})
      .update(public_key);
  hash.final(key);
}

bool carries_macs(std::span<const std::uint8_t> message) {
  return message.size() >= kSenderIndexOffset + sizeof(Le32) + kMacsLen;
}

bool mac_matches(std::span<const std::uint8_t> key, std::span<const std::uint8_t> covered,
                 const std::uint8_t* mac) {
  std::array<std::uint8_t, kCookieLen> computed;
  crypto::blake2s(computed, covered, key);
  return crypto::equal_ct16(computed.data(), mac);
}

// Calls run(indices, count, length) for groups of up to crypto::kMacLanes
// items of equal length (length_of(i)), covering each i < n once: a lane
// kernel takes one length per call. O(n x distinct lengths), and a burst
// has at most two (initiations and responses; IPv4 and IPv6 sources).
constexpr std::size_t kGroupWindow = 512;  // items sorted per pass (a worker's burst)

template <typename LengthOf, typename Run>
void in_lane_groups(std::size_t n, LengthOf length_of, Run run) {
  std::size_t group[crypto::kMacLanes];
  for (std::size_t base = 0; base < n; base += kGroupWindow) {
    const std::size_t end = std::min(n, base + kGroupWindow);
    std::array<bool, kGroupWindow> done{};
    std::size_t first = base;
    while (first < end) {
      const std::size_t len = length_of(first);
      std::size_t count = 0;
      std::size_t next_first = end;
      for (std::size_t i = first; i < end; ++i) {
        if (done[i - base]) continue;
        if (length_of(i) != len) {
          next_first = std::min(next_first, i);
          continue;
        }
        done[i - base] = true;
        group[count++] = i;
        if (count == crypto::kMacLanes) {
          run(group, count, len);
          count = 0;
        }
      }
      if (count > 0) run(group, count, len);
      first = next_first;
    }
  }
}

// The cookie MAC's input: the source address (4 or 16 bytes) and port in
// network order.
std::size_t source_len(const Endpoint& from) {
  return (from.is_v6() ? 16 : 4) + 2;
}

void source_bytes(std::array<std::uint8_t, 18>& out, const Endpoint& from) {
  const std::array<std::uint8_t, 16> addr = from.addr();
  const std::size_t addr_len = source_len(from) - 2;
  std::copy_n(addr.begin(), addr_len, out.begin());
  const std::uint16_t port_be = from.port_be();
  std::memcpy(out.data() + addr_len, &port_be, 2);
}

}  // namespace

CookieGate::CookieGate(std::span<const std::uint8_t, 32> local_public_key, Rcu* rcu,
                       std::uint64_t tsc_hz)
    : rcu_(rcu), max_age_cycles_(static_cast<std::uint64_t>(kCookieSecretMaxAge.count()) * tsc_hz) {
  std::array<std::uint8_t, 32> mac1_key;
  derive_key(mac1_key, kLabelMac1, local_public_key);
  mac1_key_.set(mac1_key);
  crypto::wipe(mac1_key.data(), mac1_key.size());
  derive_key(cookie_key_, kLabelCookie, local_public_key);
  rotate(0);
}

CookieGate::~CookieGate() {
  // The workers are gone before the gate (the hub stops them first).
  for (const Retired& r : retired_) destroy(r.secret);
  destroy(current_.load(std::memory_order_relaxed));
}

void CookieGate::destroy(Secret* s) {
  if (s == nullptr) return;
  crypto::wipe(s->bytes.data(), s->bytes.size());
  delete s;
}

void CookieGate::rotate(std::uint64_t now_tsc) {
  auto* fresh = new Secret;
  crypto::random_bytes(fresh->bytes);
  fresh->keyed.set(fresh->bytes);
  fresh->birth_tsc = now_tsc;
  Secret* old = current_.exchange(fresh, std::memory_order_acq_rel);
  if (old == nullptr) return;
  if (rcu_ == nullptr || !rcu_->initialized()) {
    destroy(old);
    return;
  }
  retired_.push_back({rcu_->start(), old});
}

void CookieGate::rotate_if_due(std::uint64_t now_tsc) {
  while (!retired_.empty() && rcu_->check(retired_.front().token)) {
    destroy(retired_.front().secret);
    retired_.pop_front();
  }
  const Secret* s = current_.load(std::memory_order_relaxed);
  if (now_tsc - s->birth_tsc >= max_age_cycles_) rotate(now_tsc);
}

bool CookieGate::mac1_valid(std::span<const std::uint8_t> message) const {
  bool valid = false;
  mac1_valid(&message, &valid, 1);
  return valid;
}

void CookieGate::mac1_valid(const std::span<const std::uint8_t>* messages, bool* valid,
                            std::size_t n) const {
  std::fill_n(valid, n, false);
  in_lane_groups(
      n, [&](std::size_t i) { return messages[i].size(); },
      [&](const std::size_t* idx, std::size_t count, std::size_t len) {
        if (len < kSenderIndexOffset + sizeof(Le32) + kMacsLen) return;  // carries no macs
        const std::size_t mac1_offset = len - kMacsLen;
        const std::uint8_t* in[crypto::kMacLanes];
        std::uint8_t macs[crypto::kMacLanes][kCookieLen];
        for (std::size_t k = 0; k < count; ++k) in[k] = messages[idx[k]].data();
        crypto::blake2s_mac_lanes(mac1_key_, in, mac1_offset, macs, count);
        for (std::size_t k = 0; k < count; ++k)
          valid[idx[k]] = crypto::equal_ct16(macs[k], in[k] + mac1_offset);
      });
}

void CookieGate::cookie_for(Cookie& out, const Endpoint& from) const {
  const Endpoint* one = &from;
  cookies_for(&out, &one, 1);
}

void CookieGate::cookies_for(Cookie* out, const Endpoint* const* from, std::size_t n) const {
  const Secret* s = current_.load(std::memory_order_acquire);
  in_lane_groups(
      n, [&](std::size_t i) { return source_len(*from[i]); },
      [&](const std::size_t* idx, std::size_t count, std::size_t len) {
        std::array<std::uint8_t, 18> sources[crypto::kMacLanes];
        const std::uint8_t* in[crypto::kMacLanes];
        std::uint8_t macs[crypto::kMacLanes][kCookieLen];
        for (std::size_t k = 0; k < count; ++k) {
          source_bytes(sources[k], *from[idx[k]]);
          in[k] = sources[k].data();
        }
        crypto::blake2s_mac_lanes(s->keyed, in, len, macs, count);
        for (std::size_t k = 0; k < count; ++k)
          std::memcpy(out[idx[k]].data(), macs[k], kCookieLen);
        crypto::wipe(macs, sizeof macs);
      });
}

bool CookieGate::carries_mac2(std::span<const std::uint8_t> message) {
  if (!carries_macs(message)) return false;
  std::uint64_t w0, w1;
  std::memcpy(&w0, message.data() + message.size() - kCookieLen, 8);
  std::memcpy(&w1, message.data() + message.size() - kCookieLen + 8, 8);
  return (w0 | w1) != 0;
}

bool CookieGate::mac2_valid(std::span<const std::uint8_t> message, const Cookie& cookie) const {
  // A flood of fresh initiations (mac2 zero) costs no BLAKE2s here.
  if (!carries_mac2(message)) return false;
  const std::size_t mac2_offset = message.size() - kCookieLen;
  return mac_matches(cookie.span(), message.first(mac2_offset), message.data() + mac2_offset);
}

void CookieGate::make_reply(MessageCookieReply& out, std::span<const std::uint8_t> message,
                            const Endpoint& from, crypto::RandomBuffer& random) const {
  Cookie cookie;
  cookie_for(cookie, from);
  make_reply(out, message, cookie, random);
}

void CookieGate::make_reply(MessageCookieReply& out, std::span<const std::uint8_t> message,
                            const Cookie& cookie, crypto::RandomBuffer& random) const {
  make_replies(&out, &message, &cookie, 1, random);
}

void CookieGate::make_replies(MessageCookieReply* out,
                              const std::span<const std::uint8_t>* messages, const Cookie* cookies,
                              std::size_t n, crypto::RandomBuffer& random) const {
  for (std::size_t base = 0; base < n; base += crypto::kSealLanes) {
    const std::size_t count = std::min(crypto::kSealLanes, n - base);
    const std::uint8_t* nonce[crypto::kSealLanes];
    const std::uint8_t* plain[crypto::kSealLanes];
    const std::uint8_t* ad[crypto::kSealLanes];
    std::uint8_t* dst[crypto::kSealLanes];
    std::size_t lanes = 0;
    for (std::size_t k = 0; k < count; ++k) {
      MessageCookieReply& reply = out[base + k];
      const std::span<const std::uint8_t> message = messages[base + k];
      reply = MessageCookieReply{};
      reply.header.set_type(MessageType::kCookieReply);
      if (!carries_macs(message)) continue;
      std::copy_n(message.begin() + kSenderIndexOffset, sizeof(Le32),
                  reply.receiver_index.bytes.begin());
      random.take(reply.nonce);
      nonce[lanes] = reply.nonce.data();
      plain[lanes] = cookies[base + k].data();
      // AD = the mac1 being answered, so only its sender can use the reply.
      ad[lanes] = message.data() + message.size() - kMacsLen;
      dst[lanes] = reply.encrypted_cookie.data();
      ++lanes;
    }
    crypto::xaead_seal16_lanes(cookie_key_.data(), nonce, plain, ad, dst, lanes);
  }
}

// --- SourceLimiter ---

SourceLimiter::SourceLimiter(std::uint64_t tsc_hz, std::uint64_t per_second, std::uint64_t burst)
    : cost_(tsc_hz / per_second), max_tokens_(cost_ * burst) {
  crypto::random_bytes(hash_key_);
}

std::uint64_t SourceLimiter::key_of(const Endpoint& from) const {
  // An IPv4 address, or an IPv6 /64 (one subscriber's prefix), and the family.
  const std::array<std::uint8_t, 16> addr = from.addr();
  std::uint8_t in[9];
  in[0] = from.family();
  std::copy_n(addr.begin(), from.is_v6() ? 8 : 4, in + 1);
  const std::size_t len = from.is_v6() ? 9 : 5;
  std::uint64_t h;
  crypto_shorthash_siphash24(reinterpret_cast<unsigned char*>(&h), in, len, hash_key_.data());
  return h | 1;  // never 0, the empty slot's key
}

bool SourceLimiter::allow(const Endpoint& from, std::uint64_t now_tsc) {
  const std::uint64_t key = key_of(from);
  Slot& s = slots_[(key >> 1) % kSlots];
  if (s.key != key) {  // a new source (or one that lost its slot): a full burst
    s.key = key;
    s.last_tsc = now_tsc;
    s.tokens = max_tokens_ - cost_;
    return true;
  }
  s.tokens = std::min(max_tokens_, s.tokens + (now_tsc - s.last_tsc));
  s.last_tsc = now_tsc;
  if (s.tokens < cost_) return false;
  s.tokens -= cost_;
  return true;
}

// --- KnownSources ---

KnownSources::KnownSources() {
  crypto::random_bytes(hash_key_);
}

std::uint64_t KnownSources::key_of(const Endpoint& from) const {
  std::uint64_t h;
  crypto_shorthash_siphash24(reinterpret_cast<unsigned char*>(&h),
                             reinterpret_cast<const unsigned char*>(from.w), sizeof from.w,
                             hash_key_.data());
  return h | 1;  // never 0, the empty slot
}

void KnownSources::add(const Endpoint& from) {
  const std::uint64_t key = key_of(from);
  slots_[(key >> 1) % kSlots].store(key, std::memory_order_relaxed);
}

bool KnownSources::contains(const Endpoint& from) const {
  const std::uint64_t key = key_of(from);
  return slots_[(key >> 1) % kSlots].load(std::memory_order_relaxed) == key;
}

}  // namespace wghub::dp
