// Base64 of 32-byte WireGuard keys (the format wg(8) prints).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wghub::crypto {

std::string key_to_base64(const std::uint8_t key[32]);
// Returns nullopt unless text is exactly 44 characters of standard base64
// decoding to 32 bytes.
std::optional<std::array<std::uint8_t, 32>> key_from_base64(std::string_view text);

}  // namespace wghub::crypto
