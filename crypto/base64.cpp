#include "crypto/base64.hpp"

#include <sodium.h>

namespace wghub::crypto {

std::string key_to_base64(const std::uint8_t key[32]) {
  char out[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(out, sizeof out, key, 32, sodium_base64_VARIANT_ORIGINAL);
  return std::string(out);
}

std::optional<std::array<std::uint8_t, 32>> key_from_base64(std::string_view text) {
  // 32 bytes encode to 43 characters plus one '=' of padding.
  if (text.size() != 44 || text[43] != '=') return std::nullopt;
  std::array<std::uint8_t, 32> key{};
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(key.data(), key.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len != 32 || end != text.data() + text.size()) {
    sodium_memzero(key.data(), key.size());
    return std::nullopt;
  }
  return key;
}

}  // namespace wghub::crypto
