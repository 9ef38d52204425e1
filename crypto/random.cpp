#include "crypto/random.hpp"

#include <algorithm>

#include "crypto/secret.hpp"

#include "crypto/sodium_init.hpp"

namespace wghub::crypto {

void random_bytes(std::span<std::uint8_t> out) {
  detail::ensure_sodium();
  randombytes_buf(out.data(), out.size());
}

RandomBuffer::~RandomBuffer() {
  wipe(bytes_, sizeof bytes_);
  wipe(seed_, sizeof seed_);
}

void RandomBuffer::refill() {
  if (refills_++ % kRefillsPerReseed == 0) random_bytes(std::span(seed_, sizeof seed_));
  // Fast key erasure: ChaCha20 under the seed fills the buffer, whose first
  // 32 bytes become the next seed and are never handed out.
  randombytes_buf_deterministic(bytes_, kSize, seed_);
  std::copy_n(bytes_, sizeof seed_, seed_);
  wipe(bytes_, sizeof seed_);
  used_ = sizeof seed_;
}

void fast_random_bytes(std::span<std::uint8_t> out) {
  thread_local RandomBuffer buffer;
  while (!out.empty()) {
    const std::size_t n = std::min(out.size(), RandomBuffer::kSize / 2);
    buffer.take(out.first(n));
    out = out.subspan(n);
  }
}

void RandomBuffer::take(std::span<std::uint8_t> out) {
  if (out.size() > kSize - used_) refill();
  std::copy_n(bytes_ + used_, out.size(), out.begin());
  wipe(bytes_ + used_, out.size());
  used_ += out.size();
}

}  // namespace wghub::crypto
