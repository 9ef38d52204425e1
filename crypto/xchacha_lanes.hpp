// XChaCha20-Poly1305 seals of up to 16 cookie-sized messages at once (16
// bytes of plaintext, 16 of associated data, one key: WireGuard's cookie
// replies, whitepaper 5.4.7). HChaCha20 and the two ChaCha20 blocks each
// message needs run on 16 lanes (crypto/lanes.hpp); Poly1305 is libsodium's.
// The output is what xaead_seal writes: ciphertext, then tag. Checked
// against libsodium's crypto_aead_xchacha20poly1305_ietf (tests/unit/crypto).
#pragma once

#include <cstddef>
#include <cstdint>

namespace wghub::crypto {

inline constexpr std::size_t kSealLanes = 16;
inline constexpr std::size_t kSealPlainLen = 16;

// For i < n (n <= kSealLanes): dst[i][0, 32) = XChaCha20-Poly1305(key,
// nonce[i] (24 bytes), plain[i] (16 bytes), ad[i] (16 bytes)).
void xaead_seal16_lanes(const std::uint8_t key[32], const std::uint8_t* const nonce[],
                        const std::uint8_t* const plain[], const std::uint8_t* const ad[],
                        std::uint8_t* const dst[], std::size_t n);

}  // namespace wghub::crypto
