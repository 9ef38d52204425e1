#include "crypto/random.hpp"

#include "crypto/sodium_init.hpp"

namespace wghub::crypto {

void random_bytes(std::span<std::uint8_t> out) {
  detail::ensure_sodium();
  randombytes_buf(out.data(), out.size());
}

}  // namespace wghub::crypto
