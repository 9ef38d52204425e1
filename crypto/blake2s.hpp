// BLAKE2s (RFC 7693) over libb2, and the constructions WireGuard builds on it:
// HASH, MAC (keyed BLAKE2s-128 for mac1/mac2/cookies), HMAC-BLAKE2s and the
// HKDF-style KDF1/KDF2/KDF3 of the whitepaper section 5.4.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace wghub::crypto {

inline constexpr std::size_t kBlake2sOutLen = 32;
inline constexpr std::size_t kBlake2sBlockLen = 64;
inline constexpr std::size_t kMacLen = 16;

// One-shot BLAKE2s: out.size() in 1..32, key.size() in 0..32 (0 = unkeyed).
void blake2s(std::span<std::uint8_t> out, std::span<const std::uint8_t> in,
             std::span<const std::uint8_t> key = {});

// Incremental BLAKE2s, for HASH(a || b || ...) without concatenating buffers.
class Blake2s {
 public:
  explicit Blake2s(std::size_t out_len = kBlake2sOutLen, std::span<const std::uint8_t> key = {});
  ~Blake2s();
  Blake2s(const Blake2s&) = delete;
  Blake2s& operator=(const Blake2s&) = delete;

  Blake2s& update(std::span<const std::uint8_t> in);
  // Writes out_len bytes; the object may not be updated afterwards.
  void final(std::span<std::uint8_t> out);

 private:
  alignas(64) std::uint8_t state_[256];
  std::size_t out_len_;
};

// HMAC(key, in) with BLAKE2s as the hash (RFC 2104), 32-byte output.
void hmac_blake2s(std::span<std::uint8_t, kBlake2sOutLen> out, std::span<const std::uint8_t> key,
                  std::span<const std::uint8_t> in);

// WireGuard KDFn(key, input) (whitepaper 5.4): t0 = HMAC(key, input),
// t1 = HMAC(t0, 0x1), ti = HMAC(t0, t(i-1) || i). Writes 1, 2 or 3 outputs
// (pass nullptr for the ones not wanted, from the back). Intermediates wiped.
// key is the 32-byte chaining key in the protocol; any length is accepted
// (HMAC hashes keys longer than a block), as wireguard-go's KDF tests use.
void kdf(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input, std::uint8_t* out1,
         std::uint8_t* out2 = nullptr, std::uint8_t* out3 = nullptr);

}  // namespace wghub::crypto
