// The one source of randomness for keys, nonces, cookie secrets and session
// indices: libsodium's CSPRNG (getrandom(2) underneath), initialised once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace wghub::crypto {

void random_bytes(std::span<std::uint8_t> out);

// Random bytes for hot paths (cookie reply nonces on the workers): one
// CSPRNG call refills kSize bytes, then take() hands them out a piece at a
// time, so a flood of cookie replies costs one getrandom(2) per ~170 replies
// rather than one each. Bytes handed out are erased from the buffer. One
// owner (a worker or the control thread); not thread-safe.
class RandomBuffer {
 public:
  static constexpr std::size_t kSize = 4096;
  RandomBuffer() = default;
  ~RandomBuffer();
  RandomBuffer(const RandomBuffer&) = delete;
  RandomBuffer& operator=(const RandomBuffer&) = delete;

  // Fills `out` (at most kSize bytes).
  void take(std::span<std::uint8_t> out);

 private:
  std::uint8_t bytes_[kSize];
  std::size_t used_ = kSize;  // empty until the first take()
};

template <typename T>
T random_value() {
  T value;
  random_bytes({reinterpret_cast<std::uint8_t*>(&value), sizeof value});
  return value;
}

}  // namespace wghub::crypto
