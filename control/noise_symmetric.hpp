// The generic Noise machinery under WireGuard's handshake: the SymmetricState
// of the Noise spec (section 5.2, ChaChaPoly + BLAKE2s + 25519) and the
// Noise_IKpsk2 handshake pattern (spec 7.5 with the psk modifier of 9.1),
//
//   <- s
//   ...
//   -> e, es, s, ss
//   <- e, ee, se, psk
//
// parameterised by protocol name, prologue, payloads and injected ephemeral
// keys. control/noise.cpp builds WireGuard's messages on it; the unit tests
// drive it with the cacophony vector to prove it byte for byte.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "crypto/secret.hpp"

namespace wghub::ctl::noise {

inline constexpr std::size_t kDhLen = 32;
inline constexpr std::size_t kHashLen = 32;
inline constexpr std::size_t kTagLen = 16;

// Noise SymmetricState with its embedded CipherState (k, n).
class SymmetricState {
 public:
  // Noise InitializeSymmetric: h = name padded to 32 bytes, or HASH(name) when
  // longer; ck = h; no cipher key.
  void initialize(std::string_view protocol_name);
  // h = HASH(h || data).
  void mix_hash(std::span<const std::uint8_t> data);
  // ck, k = HKDF(ck, ikm, 2); n = 0.
  void mix_key(std::span<const std::uint8_t> ikm);
  // ck = HKDF(ck, ikm, 1): MixKey for a token whose k the pattern replaces
  // before any use (IKpsk2's e, ee and se; the kernel's noise.c does the
  // same), one HMAC-BLAKE2s fewer. k is wiped and has_key() is false until
  // the next mix_key: an encrypt in between would be a pattern error.
  void mix_chaining_key(std::span<const std::uint8_t> ikm);
  // ck, temp_h, k = HKDF(ck, psk, 3); MixHash(temp_h); n = 0 (the psk token).
  void mix_key_and_hash(std::span<const std::uint8_t, kDhLen> psk);
  // out = ENCRYPT(k, n++, h, in) (or in, without a key); then MixHash(out).
  // out.size() must be in.size() + 16 with a key, in.size() without.
  void encrypt_and_hash(std::span<std::uint8_t> out, std::span<const std::uint8_t> in);
  // The inverse; false (out wiped, state unchanged) when authentication fails.
  [[nodiscard]] bool decrypt_and_hash(std::span<std::uint8_t> out,
                                      std::span<const std::uint8_t> in);
  // k1, k2 = HKDF(ck, empty, 2): the initiator's sending and receiving keys.
  void split(crypto::Secret<32>& initiator_to_responder,
             crypto::Secret<32>& responder_to_initiator) const;

  bool has_key() const { return has_key_; }
  const crypto::Secret<32>& hash() const { return h_; }
  const crypto::Secret<32>& chaining_key() const { return ck_; }
  // An explicit copy (Secret is not copyable by accident).
  void copy_from(const SymmetricState& other);
  void clear();

 private:
  crypto::Secret<32> ck_;
  crypto::Secret<32> h_;
  crypto::Secret<32> k_;
  bool has_key_ = false;
  std::uint64_t n_ = 0;
};

// Bytes of the two IKpsk2 handshake messages for a given payload length.
inline constexpr std::size_t message_1_len(std::size_t payload_len) {
  return kDhLen + (kDhLen + kTagLen) + payload_len + kTagLen;
}
inline constexpr std::size_t message_2_len(std::size_t payload_len) {
  return kDhLen + payload_len + kTagLen;
}

// Outcome of one IKpsk2 handshake step.
enum class Status : std::uint8_t {
  kOk = 0,
  kBadLength,   // buffer sizes do not match the message
  kZeroDh,      // a DH result (or a precomputed ss) was all zero
  kAuthFailed,  // DecryptAndHash failed: wrong key, tampered bytes, psk mismatch
};

// One side of a Noise_IKpsk2 handshake. Static-static DH results are passed in
// precomputed (WireGuard keeps them per peer); every other DH is done here and
// an all-zero result fails the step. Methods that return a Status other than
// kOk leave the object in an unspecified state: callers work on a scratch copy and
// keep it only on success.
class IkPsk2 {
 public:
  enum class Role { kInitiator, kResponder };

  // Noise Initialize(): InitializeSymmetric(name), MixHash(prologue), then the
  // pre-message `<- s`: MixHash(responder's static public key). The initiator
  // also remembers it as remote_static().
  void initialize(Role role, std::string_view protocol_name, std::span<const std::uint8_t> prologue,
                  std::span<const std::uint8_t, kDhLen> responder_static);

  // Initiator: -> e, es, s, ss, payload. out.size() must be
  // message_1_len(payload.size()). `ss` is DH(s_i, s_r).
  [[nodiscard]] Status write_message_1(std::span<std::uint8_t> out,
                                       const crypto::Secret<32>& ephemeral_private,
                                       std::span<const std::uint8_t, kDhLen> local_static_public,
                                       const crypto::Secret<32>& ss,
                                       std::span<const std::uint8_t> payload);

  // Responder, first half of reading message 1: e, es, s. On success the
  // initiator's static key is remote_static(), to be looked up by the caller.
  [[nodiscard]] Status read_message_1_static(std::span<const std::uint8_t> msg,
                                             const crypto::Secret<32>& local_static_private);
  // Responder, second half: ss, payload. payload_out.size() must be
  // msg.size() - message_1_len(0).
  [[nodiscard]] Status read_message_1_payload(std::span<const std::uint8_t> msg,
                                              const crypto::Secret<32>& ss,
                                              std::span<std::uint8_t> payload_out);

  // Responder: <- e, ee, se, psk, payload. out.size() must be
  // message_2_len(payload.size()).
  [[nodiscard]] Status write_message_2(std::span<std::uint8_t> out,
                                       const crypto::Secret<32>& ephemeral_private,
                                       std::span<const std::uint8_t, kDhLen> psk,
                                       std::span<const std::uint8_t> payload);

  // Initiator: reads message 2. payload_out.size() must be
  // msg.size() - message_2_len(0).
  [[nodiscard]] Status read_message_2(std::span<const std::uint8_t> msg,
                                      const crypto::Secret<32>& local_static_private,
                                      std::span<const std::uint8_t, kDhLen> psk,
                                      std::span<std::uint8_t> payload_out);

  // Transport keys (Noise Split()).
  void split(crypto::Secret<32>& initiator_to_responder,
             crypto::Secret<32>& responder_to_initiator) const {
    symmetric_.split(initiator_to_responder, responder_to_initiator);
  }

  const SymmetricState& symmetric() const { return symmetric_; }
  const std::array<std::uint8_t, kDhLen>& remote_static() const { return remote_static_; }
  const std::array<std::uint8_t, kDhLen>& remote_ephemeral() const { return remote_ephemeral_; }
  const std::array<std::uint8_t, kDhLen>& local_ephemeral_public() const {
    return ephemeral_public_;
  }

  void copy_from(const IkPsk2& other);
  void clear();

 private:
  // The `e` token on the sending side: MixHash(e.pub) and, in psk handshakes,
  // MixKey(e.pub) (Noise spec 9.2).
  void send_e(std::span<std::uint8_t, kDhLen> out, const crypto::Secret<32>& ephemeral_private);
  void receive_e(std::span<const std::uint8_t, kDhLen> in);
  // Whether the k a DH token derives is used before the next MixKey: es
  // encrypts s; ee and se are followed by psk, which derives a fresh k.
  enum class KeyUse { kEncrypts, kChainOnly };
  // MixKey(DH(priv, pub)) (only the chaining key for kChainOnly); false on an
  // all-zero result.
  [[nodiscard]] bool mix_dh(const crypto::Secret<32>& priv,
                            std::span<const std::uint8_t, kDhLen> pub,
                            KeyUse use = KeyUse::kEncrypts);

  SymmetricState symmetric_;
  crypto::Secret<32> ephemeral_private_;
  std::array<std::uint8_t, kDhLen> ephemeral_public_{};
  std::array<std::uint8_t, kDhLen> remote_ephemeral_{};
  std::array<std::uint8_t, kDhLen> remote_static_{};
};

}  // namespace wghub::ctl::noise
