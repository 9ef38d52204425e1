// A hash for 32-byte public keys in unordered containers. Public keys are
// X25519 outputs, uniformly random bytes, so their first word is already a
// good hash. Only keys the hub was configured with (or the engine created)
// are inserted, so a sender cannot choose keys to lengthen a bucket.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace wghub::crypto {

struct PublicKeyHash {
  std::size_t operator()(const std::array<std::uint8_t, 32>& key) const noexcept {
    std::size_t h;
    std::memcpy(&h, key.data(), sizeof h);
    return h;
  }
};

}  // namespace wghub::crypto
