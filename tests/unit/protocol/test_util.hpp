// Small helpers shared by the protocol unit tests: hex decoding, byte views
// of wire structs, a fake clock origin.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "control/clock.hpp"

namespace wghub::test {

inline std::vector<std::uint8_t> from_hex(std::string_view hex) {
  auto nibble = [](char c) -> std::uint8_t {
    if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<std::uint8_t>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<std::uint8_t>(c - 'A' + 10);
    throw std::invalid_argument("bad hex digit");
  };
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd hex length");
  std::vector<std::uint8_t> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> array_from_hex(std::string_view hex) {
  auto v = from_hex(hex);
  if (v.size() != N) throw std::invalid_argument("hex length");
  std::array<std::uint8_t, N> out{};
  std::memcpy(out.data(), v.data(), N);
  return out;
}

// The bytes of a wire struct (all of them have alignment 1 and no padding).
template <typename T>
std::span<std::uint8_t> bytes_of(T& msg) {
  return {reinterpret_cast<std::uint8_t*>(&msg), sizeof(T)};
}
template <typename T>
std::span<const std::uint8_t> bytes_of(const T& msg) {
  return {reinterpret_cast<const std::uint8_t*>(&msg), sizeof(T)};
}

// A simulated monotonic clock: tests never read real time.
inline ctl::TimePoint at_seconds(double s) {
  return ctl::TimePoint{} + std::chrono::duration_cast<ctl::Clock::duration>(
                                std::chrono::duration<double>(1000.0 + s));
}

}  // namespace wghub::test
