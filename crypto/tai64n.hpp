// TAI64N timestamps for handshake initiations (whitepaper 5.4.2), rounded the
// way the Linux kernel rounds them so a timestamp does not leak fine timing.
#pragma once

#include <array>
#include <cstdint>
#include <ctime>

namespace wghub::crypto {

inline constexpr std::size_t kTai64nLen = 12;
using Tai64n = std::array<std::uint8_t, kTai64nLen>;

// Encodes a wall-clock time. Nanoseconds are rounded down to a multiple of
// 2^24 ns (the kernel rounds to the largest power of two below 1 s / 50).
Tai64n tai64n_from(const timespec& wall);
Tai64n tai64n_now();

// Byte-wise big-endian comparison: a is newer than b.
bool tai64n_after(const Tai64n& a, const Tai64n& b);

}  // namespace wghub::crypto
