// mac1/mac2 and cookie replies (whitepaper 5.4.4, 5.4.7; kernel cookie.c).
#include "control/cookie.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <string_view>

#include "crypto/aead.hpp"
#include "crypto/blake2s.hpp"
#include "crypto/random.hpp"

namespace wghub::ctl {

namespace {

constexpr std::string_view kLabelMac1 = "mac1----";
constexpr std::string_view kLabelCookie = "cookie--";
constexpr std::size_t kMacsLen = sizeof(dp::MessageMacs);
// Offset of sender_index in both initiations and responses.
constexpr std::size_t kSenderIndexOffset = offsetof(dp::MessageInitiation, sender_index);
static_assert(kSenderIndexOffset == offsetof(dp::MessageResponse, sender_index));

// key = HASH(label || public key) (whitepaper 5.4.4, 5.4.7).
void derive_key(crypto::Secret<32>& key, std::string_view label,
                std::span<const std::uint8_t, 32> public_key) {
  crypto::Blake2s hash;
  hash.update({reinterpret_cast<const std::uint8_t*>(label.data()), label.size()})
      .update(public_key);
  hash.final(key.span());
}

// MAC(key, in) = keyed BLAKE2s with a 16-byte output.
void mac(std::span<std::uint8_t, dp::kCookieLen> out, std::span<const std::uint8_t> key,
         std::span<const std::uint8_t> in) {
  crypto::blake2s(out, in, key);
}

bool has_expired(TimePoint birth, std::chrono::seconds max_age, TimePoint now) {
  return birth + max_age <= now;
}

// Whether a message can carry macs at all (both kinds end in the trailer).
bool carries_macs(std::span<const std::uint8_t> message) {
  return message.size() >= sizeof(dp::MessageHeader) + sizeof(dp::Le32) + kMacsLen;
}

}  // namespace

// --- CookieChecker ---

CookieChecker::CookieChecker(std::span<const std::uint8_t, 32> local_public_key) {
  set_public_key(local_public_key);
}

void CookieChecker::set_public_key(std::span<const std::uint8_t, 32> local_public_key) {
  derive_key(mac1_key_, kLabelMac1, local_public_key);
  derive_key(cookie_encryption_key_, kLabelCookie, local_public_key);
}

void CookieChecker::make_cookie(std::span<std::uint8_t, dp::kCookieLen> out,
                                const SourceAddress& source, TimePoint now) {
  // R_m changes every two minutes (whitepaper 5.4.7), so a cookie, and a mac2
  // made with it, stops working within two minutes.
  if (!secret_valid_ || has_expired(secret_birth_, dp::kCookieSecretMaxAge, now)) {
    crypto::random_bytes(secret_.span());
    secret_birth_ = now;
    secret_valid_ = true;
  }
  const std::size_t addr_len = source.addr_len();
  const std::array<std::uint8_t, 2> port_be{static_cast<std::uint8_t>(source.port >> 8),
                                            static_cast<std::uint8_t>(source.port & 0xff)};
  crypto::Blake2s hash(dp::kCookieLen, secret_.span());
  hash.update({source.addr.data(), addr_len}).update(port_be);
  hash.final(out);
}

bool CookieChecker::mac1_valid(std::span<const std::uint8_t> message) const {
  if (!carries_macs(message)) return false;
  const std::size_t mac1_offset = message.size() - kMacsLen;
  std::array<std::uint8_t, dp::kCookieLen> computed{};
  mac(computed, mac1_key_.span(), message.first(mac1_offset));
  return crypto::equal_ct(computed.data(), message.data() + mac1_offset, dp::kCookieLen);
}

MacState CookieChecker::validate(std::span<const std::uint8_t> message, const SourceAddress& source,
                                 TimePoint now, bool check_cookie) {
  if (!mac1_valid(message)) return MacState::kInvalidMac;
  if (!check_cookie) return MacState::kValidMacButNoCookie;
  const std::size_t mac2_offset = message.size() - kMacsLen + dp::kCookieLen;

  std::array<std::uint8_t, dp::kCookieLen> computed{};

  crypto::Secret<dp::kCookieLen> cookie;
  make_cookie(cookie.span(), source, now);
  mac(computed, cookie.span(), message.first(mac2_offset));
  if (!crypto::equal_ct(computed.data(), message.data() + mac2_offset, dp::kCookieLen))
    return MacState::kValidMacButNoCookie;
  return MacState::kValidMacWithCookie;
}

void CookieChecker::create_cookie_reply(
    dp::MessageCookieReply& out, std::span<const std::uint8_t> message, const SourceAddress& source,
    TimePoint now, const std::array<std::uint8_t, dp::kCookieNonceLen>* nonce) {
  out = dp::MessageCookieReply{};
  out.header.set_type(dp::MessageType::kCookieReply);
  if (!carries_macs(message)) return;
  std::copy_n(message.begin() + kSenderIndexOffset, sizeof(dp::Le32),
              out.receiver_index.bytes.begin());
  if (nonce != nullptr) {
    out.nonce = *nonce;
  } else {
    crypto::random_bytes(out.nonce);
  }
  crypto::Secret<dp::kCookieLen> cookie;
  make_cookie(cookie.span(), source, now);
  // AD = the mac1 being answered, so only its sender can use the reply.
  const std::uint8_t* mac1 = message.data() + message.size() - kMacsLen;
  crypto::xaead_seal(out.encrypted_cookie.data(), cookie.data(), cookie.size(), mac1,
                     dp::kCookieLen, out.nonce.data(), cookie_encryption_key_.data());
}

// --- CookieMaker ---

CookieMaker::CookieMaker(std::span<const std::uint8_t, 32> remote_public_key) {
  derive_key(mac1_key_, kLabelMac1, remote_public_key);
  derive_key(cookie_decryption_key_, kLabelCookie, remote_public_key);
}

bool CookieMaker::has_cookie(TimePoint now) const {
  return cookie_valid_ &&
         !has_expired(cookie_birth_, dp::kCookieSecretMaxAge - dp::kCookieSecretLatency, now);
}

void CookieMaker::add_macs(std::span<std::uint8_t> message, TimePoint now) {
  if (!carries_macs(message)) return;
  const std::size_t mac1_offset = message.size() - kMacsLen;
  const std::size_t mac2_offset = mac1_offset + dp::kCookieLen;
  auto mac1 = message.subspan(mac1_offset).first<dp::kCookieLen>();
  auto mac2 = message.subspan(mac2_offset).first<dp::kCookieLen>();

  mac(mac1, mac1_key_.span(), message.first(mac1_offset));
  std::copy(mac1.begin(), mac1.end(), last_mac1_sent_.begin());
  have_sent_mac1_ = true;

  if (has_cookie(now)) {
    mac(mac2, cookie_.span(), message.first(mac2_offset));
  } else {
    std::fill(mac2.begin(), mac2.end(), 0);
  }
}

bool CookieMaker::consume_cookie_reply(const dp::MessageCookieReply& reply, TimePoint now) {
  if (reply.header.message_type() != dp::MessageType::kCookieReply || !have_sent_mac1_)
    return false;
  crypto::Secret<dp::kCookieLen> cookie;
  if (!crypto::xaead_open(cookie.data(), reply.encrypted_cookie.data(),
                          reply.encrypted_cookie.size(), last_mac1_sent_.data(), dp::kCookieLen,
                          reply.nonce.data(), cookie_decryption_key_.data()))
    return false;
  cookie_ = std::move(cookie);
  cookie_birth_ = now;
  cookie_valid_ = true;
  // One reply per mac1: a replayed reply cannot refresh the cookie's age.
  have_sent_mac1_ = false;
  return true;
}

}  // namespace wghub::ctl
