// The workers' DoS gate; see cookie_gate.hpp.
#include "dataplane/cookie_gate.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string_view>

#include "crypto/aead.hpp"
#include "crypto/blake2s.hpp"
#include "crypto/secret.hpp"

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

}  // namespace

CookieGate::CookieGate(std::span<const std::uint8_t, 32> local_public_key, Rcu* rcu,
                       std::uint64_t tsc_hz)
    : rcu_(rcu), max_age_cycles_(static_cast<std::uint64_t>(kCookieSecretMaxAge.count()) * tsc_hz) {
  derive_key(mac1_key_, kLabelMac1, local_public_key);
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
  if (!carries_macs(message)) return false;
  const std::size_t mac1_offset = message.size() - kMacsLen;
  return mac_matches(mac1_key_, message.first(mac1_offset), message.data() + mac1_offset);
}

void CookieGate::cookie_for(Cookie& out, const Endpoint& from) const {
  // The source address (4 or 16 bytes) and port in network order.
  std::array<std::uint8_t, 18> source;
  const std::array<std::uint8_t, 16> addr = from.addr();
  const std::size_t addr_len = from.is_v6() ? 16 : 4;
  std::copy_n(addr.begin(), addr_len, source.begin());
  const std::uint16_t port_be = from.port_be();
  std::memcpy(source.data() + addr_len, &port_be, 2);
  const Secret* s = current_.load(std::memory_order_acquire);
  crypto::blake2s(out.span(), std::span(source.data(), addr_len + 2), s->bytes);
}

bool CookieGate::mac2_valid(std::span<const std::uint8_t> message, const Cookie& cookie) const {
  if (!carries_macs(message)) return false;
  const std::size_t mac2_offset = message.size() - kCookieLen;
  // A sender without a cookie sends mac2 as zeros (whitepaper 5.4.4): no MAC
  // can match those but with probability 2^-128, so a flood of fresh
  // initiations costs no BLAKE2s here (a third of a cookie reply's cycles).
  std::uint64_t w0, w1;
  std::memcpy(&w0, message.data() + mac2_offset, 8);
  std::memcpy(&w1, message.data() + mac2_offset + 8, 8);
  if ((w0 | w1) == 0) return false;
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
  out = MessageCookieReply{};
  out.header.set_type(MessageType::kCookieReply);
  if (!carries_macs(message)) return;
  std::copy_n(message.begin() + kSenderIndexOffset, sizeof(Le32), out.receiver_index.bytes.begin());
  random.take(out.nonce);
  // AD = the mac1 being answered, so only its sender can use the reply.
  const std::uint8_t* mac1 = message.data() + message.size() - kMacsLen;
  crypto::xaead_seal(out.encrypted_cookie.data(), cookie.data(), cookie.size(), mac1, kCookieLen,
                     out.nonce.data(), cookie_key_.data());
}

// --- SourceLimiter ---

SourceLimiter::SourceLimiter(std::uint64_t tsc_hz)
    : cost_(tsc_hz / kPacketsPerSecond), max_tokens_(cost_ * kPacketsBurstable) {
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
