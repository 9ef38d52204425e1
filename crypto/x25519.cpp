// X25519 (RFC 7748) over libsodium. WireGuard refuses a DH result of all
// zeros (whitepaper 5.4, "DH(...) fails"), which is what a low-order peer
// point produces; libsodium already reports that case, and we also check.
#include "crypto/x25519.hpp"

#include <sodium.h>

#include "crypto/random.hpp"
#include "crypto/sodium_init.hpp"

namespace wghub::crypto {

bool x25519(std::span<std::uint8_t, 32> out, std::span<const std::uint8_t, 32> scalar,
            std::span<const std::uint8_t, 32> point) {
  detail::ensure_sodium();
  // crypto_scalarmult returns -1 for a low-order point / all-zero result.
  if (crypto_scalarmult(out.data(), scalar.data(), point.data()) != 0 ||
      sodium_is_zero(out.data(), out.size()) != 0) {
    sodium_memzero(out.data(), out.size());
    return false;
  }
  return true;
}

void x25519_public(std::span<std::uint8_t, 32> pub, std::span<const std::uint8_t, 32> priv) {
  detail::ensure_sodium();
  // crypto_scalarmult_base clamps the scalar (RFC 7748 section 5) itself.
  if (crypto_scalarmult_base(pub.data(), priv.data()) != 0) sodium_memzero(pub.data(), pub.size());
}

namespace {

// As wg(8) genkey does (RFC 7748 section 5 decodeScalar25519).
void clamp(std::span<std::uint8_t, 32> priv) {
  priv[0] &= 248;
  priv[31] &= 127;
  priv[31] |= 64;
}

}  // namespace

void x25519_generate(std::span<std::uint8_t, 32> priv) {
  detail::ensure_sodium();
  randombytes_buf(priv.data(), priv.size());
  clamp(priv);
}

void x25519_generate_ephemeral(std::span<std::uint8_t, 32> priv) {
  fast_random_bytes(priv);
  clamp(priv);
}

}  // namespace wghub::crypto
