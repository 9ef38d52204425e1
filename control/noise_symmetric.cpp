// Noise SymmetricState and the IKpsk2 pattern (see noise_symmetric.hpp).
#include "control/noise_symmetric.hpp"

#include <algorithm>
#include <cstring>

#include "crypto/aead.hpp"
#include "crypto/blake2s.hpp"
#include "crypto/x25519.hpp"

namespace wghub::ctl::noise {

using crypto::Secret;

// --- SymmetricState (Noise spec 5.2) ---

void SymmetricState::initialize(std::string_view protocol_name) {
  std::array<std::uint8_t, kHashLen> h{};
  const auto* name = reinterpret_cast<const std::uint8_t*>(protocol_name.data());
  if (protocol_name.size() <= kHashLen) {
    std::copy_n(name, protocol_name.size(), h.begin());
  } else {
    crypto::blake2s(h, std::span<const std::uint8_t>(name, protocol_name.size()));
  }
  h_.assign(h);
  ck_.assign(h);
  k_.clear();
  has_key_ = false;
  n_ = 0;
}

void SymmetricState::mix_hash(std::span<const std::uint8_t> data) {
  crypto::Blake2s hash;
  hash.update(h_.span()).update(data);
  hash.final(h_.span());
}

void SymmetricState::mix_key(std::span<const std::uint8_t> ikm) {
  Secret<32> ck;
  crypto::kdf(ck_.span(), ikm, ck.data(), k_.data());
  ck_ = std::move(ck);
  has_key_ = true;
  n_ = 0;
}

void SymmetricState::mix_chaining_key(std::span<const std::uint8_t> ikm) {
  Secret<32> ck;
  crypto::kdf(ck_.span(), ikm, ck.data());
  ck_ = std::move(ck);
  k_.clear();
  has_key_ = false;
  n_ = 0;
}

void SymmetricState::mix_key_and_hash(std::span<const std::uint8_t, kDhLen> psk) {
  Secret<32> ck;
  Secret<32> temp_h;
  crypto::kdf(ck_.span(), psk, ck.data(), temp_h.data(), k_.data());
  ck_ = std::move(ck);
  mix_hash(temp_h.span());
  has_key_ = true;
  n_ = 0;
}

void SymmetricState::encrypt_and_hash(std::span<std::uint8_t> out,
                                      std::span<const std::uint8_t> in) {
  if (has_key_) {
    crypto::aead_seal(out.data(), in.data(), in.size(), h_.data(), kHashLen, n_, k_.data());
    ++n_;
  } else {
    std::copy(in.begin(), in.end(), out.begin());
  }
  mix_hash(out);
}

bool SymmetricState::decrypt_and_hash(std::span<std::uint8_t> out,
                                      std::span<const std::uint8_t> in) {
  if (has_key_) {
    if (in.size() < kTagLen ||
        !crypto::aead_open(out.data(), in.data(), in.size(), h_.data(), kHashLen, n_, k_.data())) {
      crypto::wipe(out.data(), out.size());
      return false;
    }
    ++n_;
  } else {
    std::copy(in.begin(), in.end(), out.begin());
  }
  mix_hash(in);
  return true;
}

void SymmetricState::split(Secret<32>& initiator_to_responder,
                           Secret<32>& responder_to_initiator) const {
  crypto::kdf(ck_.span(), {}, initiator_to_responder.data(), responder_to_initiator.data());
}

void SymmetricState::copy_from(const SymmetricState& other) {
  ck_.assign(other.ck_.span());
  h_.assign(other.h_.span());
  k_.assign(other.k_.span());
  has_key_ = other.has_key_;
  n_ = other.n_;
}

void SymmetricState::clear() {
  ck_.clear();
  h_.clear();
  k_.clear();
  has_key_ = false;
  n_ = 0;
}

// --- IKpsk2 (Noise spec 7.5, 9) ---

void IkPsk2::initialize(Role role, std::string_view protocol_name,
                        std::span<const std::uint8_t> prologue,
                        std::span<const std::uint8_t, kDhLen> responder_static) {
  clear();
  symmetric_.initialize(protocol_name);
  symmetric_.mix_hash(prologue);
  // <- s (pre-message)
  symmetric_.mix_hash(responder_static);
  if (role == Role::kInitiator)
    std::copy(responder_static.begin(), responder_static.end(), remote_static_.begin());
}

void IkPsk2::send_e(std::span<std::uint8_t, kDhLen> out, const Secret<32>& ephemeral_private) {
  ephemeral_private_.assign(ephemeral_private.span());
  crypto::x25519_public(ephemeral_public_, ephemeral_private_.span());
  std::copy(ephemeral_public_.begin(), ephemeral_public_.end(), out.begin());
  symmetric_.mix_hash(ephemeral_public_);
  // psk modifier: e also feeds the chaining key; es (message 1) or psk
  // (message 2) sets k before it is used.
  symmetric_.mix_chaining_key(ephemeral_public_);
}

void IkPsk2::receive_e(std::span<const std::uint8_t, kDhLen> in) {
  std::copy(in.begin(), in.end(), remote_ephemeral_.begin());
  symmetric_.mix_hash(remote_ephemeral_);
  symmetric_.mix_chaining_key(remote_ephemeral_);
}

bool IkPsk2::mix_dh(const Secret<32>& priv, std::span<const std::uint8_t, kDhLen> pub, KeyUse use) {
  Secret<32> shared;
  if (!crypto::x25519(shared.span(), priv.span(), pub)) return false;
  if (use == KeyUse::kEncrypts)
    symmetric_.mix_key(shared.span());
  else
    symmetric_.mix_chaining_key(shared.span());
  return true;
}

Status IkPsk2::write_message_1(std::span<std::uint8_t> out, const Secret<32>& ephemeral_private,
                               std::span<const std::uint8_t, kDhLen> local_static_public,
                               const Secret<32>& ss, std::span<const std::uint8_t> payload) {
  if (out.size() != message_1_len(payload.size())) return Status::kBadLength;
  if (ss.is_zero()) return Status::kZeroDh;
  // e
  send_e(out.first<kDhLen>(), ephemeral_private);
  // es
  if (!mix_dh(ephemeral_private_, remote_static_)) return Status::kZeroDh;
  // s
  symmetric_.encrypt_and_hash(out.subspan(kDhLen, kDhLen + kTagLen), local_static_public);
  // ss
  symmetric_.mix_key(ss.span());
  // payload
  symmetric_.encrypt_and_hash(out.subspan(message_1_len(0) - kTagLen), payload);
  return Status::kOk;
}

Status IkPsk2::read_message_1_static(std::span<const std::uint8_t> msg,
                                     const Secret<32>& local_static_private) {
  if (msg.size() < message_1_len(0)) return Status::kBadLength;
  // e
  receive_e(msg.first<kDhLen>());
  // es
  if (!mix_dh(local_static_private, remote_ephemeral_)) return Status::kZeroDh;
  // s
  if (!symmetric_.decrypt_and_hash(remote_static_, msg.subspan(kDhLen, kDhLen + kTagLen)))
    return Status::kAuthFailed;
  return Status::kOk;
}

Status IkPsk2::read_message_1_payload(std::span<const std::uint8_t> msg, const Secret<32>& ss,
                                      std::span<std::uint8_t> payload_out) {
  if (msg.size() < message_1_len(0) || payload_out.size() != msg.size() - message_1_len(0))
    return Status::kBadLength;
  if (ss.is_zero()) return Status::kZeroDh;
  // ss
  symmetric_.mix_key(ss.span());
  // payload
  if (!symmetric_.decrypt_and_hash(payload_out, msg.subspan(message_1_len(0) - kTagLen)))
    return Status::kAuthFailed;
  return Status::kOk;
}

Status IkPsk2::write_message_2(std::span<std::uint8_t> out, const Secret<32>& ephemeral_private,
                               std::span<const std::uint8_t, kDhLen> psk,
                               std::span<const std::uint8_t> payload) {
  if (out.size() != message_2_len(payload.size())) return Status::kBadLength;
  // e
  send_e(out.first<kDhLen>(), ephemeral_private);
  // ee
  if (!mix_dh(ephemeral_private_, remote_ephemeral_, KeyUse::kChainOnly)) return Status::kZeroDh;
  // se
  if (!mix_dh(ephemeral_private_, remote_static_, KeyUse::kChainOnly)) return Status::kZeroDh;
  // psk
  symmetric_.mix_key_and_hash(psk);
  // payload
  symmetric_.encrypt_and_hash(out.subspan(kDhLen), payload);
  return Status::kOk;
}

Status IkPsk2::read_message_2(std::span<const std::uint8_t> msg,
                              const Secret<32>& local_static_private,
                              std::span<const std::uint8_t, kDhLen> psk,
                              std::span<std::uint8_t> payload_out) {
  if (msg.size() < message_2_len(0) || payload_out.size() != msg.size() - message_2_len(0))
    return Status::kBadLength;
  // e
  receive_e(msg.first<kDhLen>());
  // ee
  if (!mix_dh(ephemeral_private_, remote_ephemeral_, KeyUse::kChainOnly)) return Status::kZeroDh;
  // se
  if (!mix_dh(local_static_private, remote_ephemeral_, KeyUse::kChainOnly)) return Status::kZeroDh;
  // psk
  symmetric_.mix_key_and_hash(psk);
  // payload
  if (!symmetric_.decrypt_and_hash(payload_out, msg.subspan(kDhLen))) return Status::kAuthFailed;
  return Status::kOk;
}

void IkPsk2::copy_from(const IkPsk2& other) {
  symmetric_.copy_from(other.symmetric_);
  ephemeral_private_.assign(other.ephemeral_private_.span());
  ephemeral_public_ = other.ephemeral_public_;
  remote_ephemeral_ = other.remote_ephemeral_;
  remote_static_ = other.remote_static_;
}

void IkPsk2::clear() {
  symmetric_.clear();
  ephemeral_private_.clear();
  crypto::wipe(ephemeral_public_.data(), ephemeral_public_.size());
  crypto::wipe(remote_ephemeral_.data(), remote_ephemeral_.size());
  crypto::wipe(remote_static_.data(), remote_static_.size());
}

}  // namespace wghub::ctl::noise
