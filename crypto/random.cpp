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
}

void RandomBuffer::take(std::span<std::uint8_t> out) {
  if (out.size() > kSize - used_) {
    random_bytes(std::span(bytes_, kSize));
    used_ = 0;
  }
  std::copy_n(bytes_ + used_, out.size(), out.begin());
  wipe(bytes_ + used_, out.size());
  used_ += out.size();
}

}  // namespace wghub::crypto
