// Sixteen 32-bit lanes for the multi-message kernels (blake2s_lanes.cpp,
// xchacha_lanes.cpp): GCC/Clang vector extensions, so one source compiles to
// AVX-512 (one register per vector) where the CPU has it and to SSE2 pairs
// elsewhere. A kernel is written once as an always-inline template over the
// word type W (std::uint32_t for one message, U32x16 for sixteen) and built
// twice, once with target("avx512f"); run_lanes picks at run time.
// Internal to crypto/: not part of its interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "crypto/secret.hpp"

#pragma GCC diagnostic ignored "-Wpsabi"  // U32x16 never crosses a call: all inlined

#define WGHUB_LANES_INLINE inline __attribute__((always_inline))
#define WGHUB_LANES_AVX512 __attribute__((target("avx512f")))

namespace wghub::crypto::lanes {

inline constexpr std::size_t kLanes = 16;
using U32x16 = std::uint32_t __attribute__((vector_size(64)));

// A word's value in every lane (for W = uint32_t, the word).
template <typename W>
WGHUB_LANES_INLINE W splat(std::uint32_t x) {
  return W{} + x;
}

template <typename W>
WGHUB_LANES_INLINE W rotr(W x, int n) {
  return (x >> n) | (x << (32 - n));
}

template <typename W>
WGHUB_LANES_INLINE W rotl(W x, int n) {
  return (x << n) | (x >> (32 - n));
}

WGHUB_LANES_INLINE std::uint32_t load_le32(const std::uint8_t* p) {
  std::uint32_t x;
  std::memcpy(&x, p, 4);
  return x;  // x86: little-endian
}

WGHUB_LANES_INLINE void store_le32(std::uint8_t* p, std::uint32_t x) {
  std::memcpy(p, &x, 4);
}

// words[w] (one vector per word) from up to 16 lanes' little-endian bytes:
// lane l's word w is load_le32(rows[l] + 4 w). Lanes past n read zeros.
template <std::size_t Words>
WGHUB_LANES_INLINE void transpose_in(U32x16 (&words)[Words], const std::uint8_t* const rows[],
                                     std::size_t n) {
  alignas(64) std::uint32_t t[Words][kLanes] = {};
  for (std::size_t l = 0; l < n; ++l)
    for (std::size_t w = 0; w < Words; ++w) t[w][l] = load_le32(rows[l] + 4 * w);
  for (std::size_t w = 0; w < Words; ++w) std::memcpy(&words[w], t[w], sizeof(U32x16));
  wipe(t, sizeof t);
}

// The inverse: lane l's words to rows[l] (Words x 4 bytes), for l < n.
template <std::size_t Words>
WGHUB_LANES_INLINE void transpose_out(std::uint8_t* const rows[], const U32x16 (&words)[Words],
                                      std::size_t n) {
  alignas(64) std::uint32_t t[Words][kLanes];
  for (std::size_t w = 0; w < Words; ++w) std::memcpy(t[w], &words[w], sizeof(U32x16));
  for (std::size_t l = 0; l < n; ++l)
    for (std::size_t w = 0; w < Words; ++w) store_le32(rows[l] + 4 * w, t[w][l]);
  wipe(t, sizeof t);
}

// True where the CPU runs the avx512f builds (checked once, at start).
bool have_avx512();
// Tests: false runs the generic build (the one a CPU without AVX-512 runs);
// true goes back to the AVX-512 build where the CPU has it.
void use_avx512_for_testing(bool on);

}  // namespace wghub::crypto::lanes
