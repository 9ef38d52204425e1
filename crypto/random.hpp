// The one source of randomness for keys, nonces, cookie secrets and session
// indices: libsodium's CSPRNG (getrandom(2) underneath), initialised once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace wghub::crypto {

void random_bytes(std::span<std::uint8_t> out);

template <typename T>
T random_value() {
  T value;
  random_bytes({reinterpret_cast<std::uint8_t*>(&value), sizeof value});
  return value;
}

}  // namespace wghub::crypto
