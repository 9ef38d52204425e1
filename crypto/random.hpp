// The one source of randomness for keys, nonces, cookie secrets and session
// indices: libsodium's CSPRNG (getrandom(2) underneath), initialised once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace wghub::crypto {

void random_bytes(std::span<std::uint8_t> out);

// Random bytes for hot paths (cookie reply nonces on the workers): a
// ChaCha20 generator with fast key erasure (libsodium's
// randombytes_buf_deterministic under a 32-byte seed; each refill's first 32
// bytes are the next seed), reseeded from the OS CSPRNG every
// kRefillsPerReseed refills. take() hands the buffer out a piece at a time,
// so a flood of cookie replies costs ~1.5 cycles a byte rather than a
// getrandom(2) per ~170 replies. Bytes handed out are erased from the
// buffer. One owner (a worker or the control thread); not thread-safe.
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
  static constexpr unsigned kRefillsPerReseed = 256;  // 1 MiB of output
  void refill();

  std::uint8_t bytes_[kSize];
  std::uint8_t seed_[32];
  std::size_t used_ = kSize;  // empty until the first take()
  unsigned refills_ = 0;
};

template <typename T>
T random_value() {
  T value;
  random_bytes({reinterpret_cast<std::uint8_t*>(&value), sizeof value});
  return value;
}

// The per-handshake draws (ephemeral keys, session indices): a RandomBuffer
// of the calling thread's own. getrandom(2) is ~3,600 cycles a call on the
// 2-vCPU test VM (a syscall under the hypervisor), two or three per
// responder handshake; this is ~1.5 cycles a byte. Long-term keys and
// secrets use random_bytes().
void fast_random_bytes(std::span<std::uint8_t> out);

template <typename T>
T fast_random_value() {
  T value;
  fast_random_bytes({reinterpret_cast<std::uint8_t*>(&value), sizeof value});
  return value;
}

}  // namespace wghub::crypto
