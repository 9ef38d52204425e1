// TAI64N timestamps (https://cr.yp.to/libtai/tai64.html) for handshake
// initiations, rounded like the kernel's tai64n_now() (noise.c): nanoseconds
// are aligned down to rounddown_pow_of_two(NSEC_PER_SEC / 50) = 2^24 ns, so a
// timestamp reveals no finer timing than the initiation rate limit allows.
#include "crypto/tai64n.hpp"

#include <cstring>

namespace wghub::crypto {
namespace {

// 1e9 / 50 = 20,000,000 ns; the largest power of two not above it is 2^24.
constexpr std::uint32_t kNsecGranularity = 1u << 24;
static_assert(kNsecGranularity <= 1'000'000'000u / 50 &&
              2 * kNsecGranularity > 1'000'000'000u / 50);

// TAI64 label of the Unix epoch: 2^62 + 10 (TAI-UTC offset in 1970).
constexpr std::uint64_t kTai64Epoch = 0x400000000000000aULL;

}  // namespace

Tai64n tai64n_from(const timespec& wall) {
  const std::uint64_t secs = kTai64Epoch + static_cast<std::uint64_t>(wall.tv_sec);
  const std::uint32_t nsec = static_cast<std::uint32_t>(wall.tv_nsec) & ~(kNsecGranularity - 1);
  Tai64n out{};
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(secs >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) out[8 + i] = static_cast<std::uint8_t>(nsec >> (24 - 8 * i));
  return out;
}

Tai64n tai64n_now() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return tai64n_from(now);
}

bool tai64n_after(const Tai64n& a, const Tai64n& b) {
  // Both fields are big endian, so byte order is time order.
  return std::memcmp(a.data(), b.data(), kTai64nLen) > 0;
}

}  // namespace wghub::crypto
