// BLAKE2s (RFC 7693 section 3.2) on 16 lanes; see blake2s_lanes.hpp.
#include "crypto/blake2s_lanes.hpp"

#include <algorithm>

#include "crypto/lanes.hpp"
#include "crypto/secret.hpp"

namespace wghub::crypto {
namespace {

using lanes::U32x16;

constexpr std::uint32_t kIv[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                                  0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};
constexpr std::uint8_t kSigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};
constexpr std::size_t kBlock = 64;
constexpr std::uint32_t kOutLen = 16;
constexpr std::uint32_t kMacKeyLen = 32;

template <typename W>
WGHUB_LANES_INLINE void g(W* v, int a, int b, int c, int d, W x, W y) {
  v[a] = v[a] + v[b] + x;
  v[d] = lanes::rotr(v[d] ^ v[a], 16);
  v[c] = v[c] + v[d];
  v[b] = lanes::rotr(v[b] ^ v[c], 12);
  v[a] = v[a] + v[b] + y;
  v[d] = lanes::rotr(v[d] ^ v[a], 8);
  v[c] = v[c] + v[d];
  v[b] = lanes::rotr(v[b] ^ v[c], 7);
}

// F(h, m, t, f) with t < 2^32 (the messages here are short).
template <typename W>
WGHUB_LANES_INLINE void compress(W (&h)[8], const W (&m)[16], std::uint32_t t, bool last) {
  W v[16];
  for (int i = 0; i < 8; ++i) {
    v[i] = h[i];
    v[i + 8] = lanes::splat<W>(kIv[i]);
  }
  v[12] ^= t;
  if (last) v[14] = ~v[14];
  for (const auto& s : kSigma) {
    g(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
    g(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
    g(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
    g(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
    g(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
    g(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
    g(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
    g(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
  for (int i = 0; i < 8; ++i) h[i] ^= v[i] ^ v[i + 8];
}

// The messages' blocks after the key block: full ones, then the last,
// zero-padded, with the final flag; t counts the key block's 64 bytes.
WGHUB_LANES_INLINE void mac_lanes(const Blake2sMacKey& key, const std::uint8_t* const in[],
                                  std::size_t len, std::uint8_t (*out)[16], std::size_t n) {
  U32x16 h[8];
  for (int i = 0; i < 8; ++i) h[i] = lanes::splat<U32x16>(key.chaining()[i]);
  alignas(64) std::uint8_t padded[lanes::kLanes][kBlock];
  const std::uint8_t* rows[lanes::kLanes];
  for (std::size_t offset = 0; offset < len; offset += kBlock) {
    const std::size_t take = std::min(kBlock, len - offset);
    const bool last = offset + take == len;
    for (std::size_t l = 0; l < n; ++l) {
      if (take == kBlock) {
        rows[l] = in[l] + offset;
      } else {
        std::memcpy(padded[l], in[l] + offset, take);
        std::memset(padded[l] + take, 0, kBlock - take);
        rows[l] = padded[l];
      }
    }
    U32x16 m[16];
    lanes::transpose_in(m, rows, n);
    compress(h, m, static_cast<std::uint32_t>(kBlock + offset + take), last);
  }
  U32x16 digest[kOutLen / 4];
  std::copy_n(h, kOutLen / 4, digest);
  std::uint8_t* outs[lanes::kLanes];
  for (std::size_t l = 0; l < n; ++l) outs[l] = out[l];
  lanes::transpose_out(outs, digest, n);
}

WGHUB_LANES_AVX512 void mac_lanes_avx512(const Blake2sMacKey& key, const std::uint8_t* const in[],
                                         std::size_t len, std::uint8_t (*out)[16], std::size_t n) {
  mac_lanes(key, in, len, out, n);
}

void mac_lanes_generic(const Blake2sMacKey& key, const std::uint8_t* const in[], std::size_t len,
                       std::uint8_t (*out)[16], std::size_t n) {
  mac_lanes(key, in, len, out, n);
}

}  // namespace

Blake2sMacKey::~Blake2sMacKey() {
  wipe(h_.data(), sizeof h_);
}

void Blake2sMacKey::set(std::span<const std::uint8_t, 32> key) {
  // Parameter block: digest length, key length, fanout 1, depth 1.
  std::uint32_t h[8];
  std::copy_n(kIv, 8, h);
  h[0] ^= 0x01010000 ^ (kMacKeyLen << 8) ^ kOutLen;
  std::uint32_t m[16] = {};
  for (int i = 0; i < 8; ++i) m[i] = lanes::load_le32(key.data() + 4 * i);
  compress(h, m, kBlock, false);
  std::copy_n(h, 8, h_.begin());
  wipe(h, sizeof h);
  wipe(m, sizeof m);
}

void blake2s_mac_lanes(const Blake2sMacKey& key, const std::uint8_t* const in[], std::size_t len,
                       std::uint8_t (*out)[16], std::size_t n) {
  if (n == 0) return;
  if (lanes::have_avx512()) {
    mac_lanes_avx512(key, in, len, out, n);
  } else {
    mac_lanes_generic(key, in, len, out, n);
  }
}

}  // namespace wghub::crypto
