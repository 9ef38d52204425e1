// mac1, mac2 and cookie replies: WireGuard's DoS defence (whitepaper 5.3,
// 5.4.4, 5.4.7; kernel cookie.c).
//
//   mac1   = MAC(HASH("mac1----" || S_responder_pub), msg[0 : offset of mac1])
//   cookie = MAC(R_m, source ip || source port), R_m random, renewed every 120 s
//   mac2   = MAC(cookie, msg[0 : offset of mac2])
//   reply  = XAEAD(HASH("cookie--" || S_responder_pub), random 24-byte nonce,
//                  cookie, AD = mac1 of the message it answers)
//
// CookieChecker is the receiving side (one per interface: it checks macs
// keyed by our own public key and makes cookie replies). CookieMaker is the
// sending side (one per peer: it adds macs keyed by the peer's public key and
// keeps the cookie the peer sent us). Clocks are injected as `now`.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "control/clock.hpp"
#include "control/source_address.hpp"
#include "crypto/secret.hpp"
#include "dataplane/messages.hpp"

namespace wghub::ctl {

// Outcome of checking a message's macs (kernel enum cookie_mac_state). The
// per-source rate limit that the kernel folds in here is the caller's
// (control/ratelimiter).
enum class MacState : std::uint8_t {
  kInvalidMac,           // mac1 wrong: drop silently
  kValidMacButNoCookie,  // mac1 right; mac2 absent, stale or wrong (or not checked)
  kValidMacWithCookie,   // mac1 and mac2 right: the source address is proven
};

// Hub side: validates mac1/mac2 of incoming initiations and responses and
// creates cookie replies. Owns the rotating secret R_m.
class CookieChecker {
 public:
  // Keys derived from our static public key (whitepaper 5.4.4/5.4.7).
  explicit CookieChecker(std::span<const std::uint8_t, 32> local_public_key);

  // Re-derives the keys after the interface's key pair changed.
  void set_public_key(std::span<const std::uint8_t, 32> local_public_key);

  // `message` is a whole initiation (148 B) or response (92 B), macs last.
  // Always checks mac1; checks mac2 only when `check_cookie` (the hub is under
  // load). Renews R_m first when it is older than 120 s at `now`.
  MacState validate(std::span<const std::uint8_t> message, const SourceAddress& source,
                    TimePoint now, bool check_cookie);

  // mac1 alone (any thread: reads only the key).
  bool mac1_valid(std::span<const std::uint8_t> message) const;

  // Answers `message` (whose mac1 was valid) with a cookie for `source`,
  // addressed to the message's sender index. `nonce` injects the 24-byte
  // nonce for tests; nullptr draws a random one.
  void create_cookie_reply(dp::MessageCookieReply& out, std::span<const std::uint8_t> message,
                           const SourceAddress& source, TimePoint now,
                           const std::array<std::uint8_t, dp::kCookieNonceLen>* nonce = nullptr);

 private:
  // cookie = MAC(R_m, ip || port), renewing R_m if it expired.
  void make_cookie(std::span<std::uint8_t, dp::kCookieLen> out, const SourceAddress& source,
                   TimePoint now);

  crypto::Secret<32> mac1_key_;               // HASH("mac1----" || our public key)
  crypto::Secret<32> cookie_encryption_key_;  // HASH("cookie--" || our public key)
  crypto::Secret<32> secret_;                 // R_m
  TimePoint secret_birth_{};
  bool secret_valid_ = false;
};

// Peer side: adds mac1/mac2 to the messages we send to one peer and holds the
// cookie that peer last gave us.
class CookieMaker {
 public:
  // Keys derived from the peer's static public key.
  explicit CookieMaker(std::span<const std::uint8_t, 32> remote_public_key);

  // Fills the macs trailer of an outgoing initiation or response (`message`
  // is the whole message). mac2 is the cookie's MAC while we hold a cookie
  // younger than 120 - 5 s (the kernel's margin so it cannot expire in
  // flight at the responder), zero otherwise. Remembers mac1 so that a
  // cookie reply can be matched to it.
  void add_macs(std::span<std::uint8_t> message, TimePoint now);

  // Decrypts a cookie reply answering the last message we added macs to and
  // stores the cookie with birth time `now`. False (nothing stored) when we
  // sent no mac1 since the last cookie, or the reply does not authenticate
  // against that mac1 (forged, or answering another message). The caller
  // finds this maker by the reply's receiver index.
  [[nodiscard]] bool consume_cookie_reply(const dp::MessageCookieReply& reply, TimePoint now);

  bool has_cookie(TimePoint now) const;

 private:
  crypto::Secret<32> mac1_key_;               // HASH("mac1----" || peer public key)
  crypto::Secret<32> cookie_decryption_key_;  // HASH("cookie--" || peer public key)
  crypto::Secret<dp::kCookieLen> cookie_;
  TimePoint cookie_birth_{};
  bool cookie_valid_ = false;
  std::array<std::uint8_t, dp::kCookieLen> last_mac1_sent_{};
  bool have_sent_mac1_ = false;
};

}  // namespace wghub::ctl
