// Keyed BLAKE2s-128 (WireGuard's MAC: mac1, mac2, cookies; whitepaper 5.4.4
// and 5.4.7) of up to 16 messages at once, one message per 32-bit lane of an
// AVX-512 register (crypto/lanes.hpp), with the key block compressed once
// per key rather than once per message. A worker answering an initiation
// flood computes two MACs per message (mac1, the cookie); libb2 does each
// one message at a time and re-compresses the key block every time.
// Checked against libb2 and RFC 7693's vectors (tests/unit/crypto).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace wghub::crypto {

inline constexpr std::size_t kMacLanes = 16;

// A MAC key with its key block already compressed: the BLAKE2s chaining
// value after the first block (output length 16). Wiped when destroyed.
class Blake2sMacKey {
 public:
  Blake2sMacKey() = default;
  explicit Blake2sMacKey(std::span<const std::uint8_t, 32> key) { set(key); }
  ~Blake2sMacKey();
  Blake2sMacKey(const Blake2sMacKey&) = default;
  Blake2sMacKey& operator=(const Blake2sMacKey&) = default;
  void set(std::span<const std::uint8_t, 32> key);
  const std::array<std::uint32_t, 8>& chaining() const { return h_; }

 private:
  std::array<std::uint32_t, 8> h_{};
};

// out[i] = BLAKE2s-128(key, in[i][0, len)) for i < n, n <= kMacLanes; every
// message `len` bytes long (len >= 1).
void blake2s_mac_lanes(const Blake2sMacKey& key, const std::uint8_t* const in[], std::size_t len,
                       std::uint8_t (*out)[16], std::size_t n);

}  // namespace wghub::crypto
