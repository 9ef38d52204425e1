// ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305 through libsodium:
// the single-shot functions the handshake and cookies use, and the reference
// AeadBackend that does a burst one packet at a time.
#include <sodium.h>

#include "crypto/aead.hpp"
#include "crypto/sodium_init.hpp"

namespace wghub::crypto {

void make_aead_nonce(std::uint8_t out[kAeadNonceLen], std::uint64_t counter,
                     std::uint32_t prefix) noexcept {
  // RFC 8439 2.8 / whitepaper 5.4.6: 32 bits (zero in WireGuard), then the
  // counter as 64-bit little endian.
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(prefix >> (8 * i));
  for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<std::uint8_t>(counter >> (8 * i));
}

void aead_seal_nonce(std::uint8_t* dst, const std::uint8_t* src, std::size_t len,
                     const std::uint8_t* ad, std::size_t ad_len,
                     const std::uint8_t nonce[kAeadNonceLen], const std::uint8_t key[kAeadKeyLen]) {
  detail::ensure_sodium();
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + len, nullptr, src, len, ad, ad_len,
                                                     nullptr, nonce, key);
}

bool aead_open_nonce(std::uint8_t* dst, const std::uint8_t* src, std::size_t len,
                     const std::uint8_t* ad, std::size_t ad_len,
                     const std::uint8_t nonce[kAeadNonceLen], const std::uint8_t key[kAeadKeyLen]) {
  detail::ensure_sodium();
  if (len < kAeadTagLen) return false;
  const std::size_t text_len = len - kAeadTagLen;
  // libsodium checks the tag before it decrypts and clears dst on failure.
  return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
             dst, nullptr, src, text_len, src + text_len, ad, ad_len, nonce, key) == 0;
}

void aead_seal(std::uint8_t* dst, const std::uint8_t* src, std::size_t len, const std::uint8_t* ad,
               std::size_t ad_len, std::uint64_t counter, const std::uint8_t key[kAeadKeyLen]) {
  std::uint8_t nonce[kAeadNonceLen];
  make_aead_nonce(nonce, counter);
  aead_seal_nonce(dst, src, len, ad, ad_len, nonce, key);
}

bool aead_open(std::uint8_t* dst, const std::uint8_t* src, std::size_t len, const std::uint8_t* ad,
               std::size_t ad_len, std::uint64_t counter, const std::uint8_t key[kAeadKeyLen]) {
  std::uint8_t nonce[kAeadNonceLen];
  make_aead_nonce(nonce, counter);
  return aead_open_nonce(dst, src, len, ad, ad_len, nonce, key);
}

void xaead_seal(std::uint8_t* dst, const std::uint8_t* src, std::size_t len, const std::uint8_t* ad,
                std::size_t ad_len, const std::uint8_t nonce[kXNonceLen],
                const std::uint8_t key[kAeadKeyLen]) {
  detail::ensure_sodium();
  crypto_aead_xchacha20poly1305_ietf_encrypt_detached(dst, dst + len, nullptr, src, len, ad, ad_len,
                                                      nullptr, nonce, key);
}

bool xaead_open(std::uint8_t* dst, const std::uint8_t* src, std::size_t len, const std::uint8_t* ad,
                std::size_t ad_len, const std::uint8_t nonce[kXNonceLen],
                const std::uint8_t key[kAeadKeyLen]) {
  detail::ensure_sodium();
  if (len < kAeadTagLen) return false;
  const std::size_t text_len = len - kAeadTagLen;
  return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
             dst, nullptr, src, text_len, src + text_len, ad, ad_len, nonce, key) == 0;
}

namespace {

class SodiumBackend final : public AeadBackend {
 public:
  SodiumBackend() { detail::ensure_sodium(); }

  std::string_view name() const override { return "libsodium"; }

  // libsodium declares its message pointers non-null even for zero bytes
  // (UBSan holds it to that): an empty message gets a harmless stand-in.
  static std::uint8_t* data_of(const AeadOp& op) {
    static std::uint8_t empty[1];
    return op.data != nullptr ? op.data : empty;
  }

  void seal_burst(std::span<AeadOp> ops) override {
    std::uint8_t nonce[kAeadNonceLen];
    for (AeadOp& op : ops) {
      make_aead_nonce(nonce, op.counter, op.nonce_prefix);
      std::uint8_t* data = data_of(op);
      op.ok =
          crypto_aead_chacha20poly1305_ietf_encrypt_detached(
              data, op.tag, nullptr, data, op.len, op.ad, op.ad_len, nullptr, nonce, op.key) == 0;
    }
  }

  void open_burst(std::span<AeadOp> ops) override {
    std::uint8_t nonce[kAeadNonceLen];
    for (AeadOp& op : ops) {
      make_aead_nonce(nonce, op.counter, op.nonce_prefix);
      std::uint8_t* data = data_of(op);
      op.ok = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                  data, nullptr, data, op.len, op.tag, op.ad, op.ad_len, nonce, op.key) == 0;
    }
  }
};

}  // namespace

std::unique_ptr<AeadBackend> make_sodium_backend() {
  return std::make_unique<SodiumBackend>();
}

}  // namespace wghub::crypto
