// X25519 (RFC 7748) over libsodium.
#pragma once

#include <cstdint>
#include <span>

namespace wghub::crypto {

inline constexpr std::size_t kX25519Len = 32;

// out = X25519(scalar, point). Returns false, with out zeroed, when the result
// is all zero (a low-order point): WireGuard refuses such a handshake.
[[nodiscard]] bool x25519(std::span<std::uint8_t, 32> out, std::span<const std::uint8_t, 32> scalar,
                          std::span<const std::uint8_t, 32> point);

// Public key for a private key (clamping as RFC 7748 section 5).
void x25519_public(std::span<std::uint8_t, 32> pub, std::span<const std::uint8_t, 32> priv);

// A fresh clamped private key from the OS CSPRNG.
void x25519_generate(std::span<std::uint8_t, 32> priv);
// A handshake's ephemeral key: the same from the thread's fast-key-erasure
// generator (crypto::fast_random_bytes), without a syscall per handshake.
void x25519_generate_ephemeral(std::span<std::uint8_t, 32> priv);

}  // namespace wghub::crypto
