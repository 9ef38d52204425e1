// HChaCha20 and ChaCha20 (RFC 8439 2.3, draft-irtf-cfrg-xchacha-03 2.2) on 16
// lanes, and the AEAD around them (RFC 8439 2.8); see xchacha_lanes.hpp.
#include "crypto/xchacha_lanes.hpp"

#include <sodium.h>

#include "crypto/lanes.hpp"
#include "crypto/secret.hpp"

namespace wghub::crypto {
namespace {

using lanes::U32x16;

constexpr std::uint32_t kSigma[4] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};

WGHUB_LANES_INLINE void quarter(U32x16* x, int a, int b, int c, int d) {
  x[a] += x[b];
  x[d] = lanes::rotl(x[d] ^ x[a], 16);
  x[c] += x[d];
  x[b] = lanes::rotl(x[b] ^ x[c], 12);
  x[a] += x[b];
  x[d] = lanes::rotl(x[d] ^ x[a], 8);
  x[c] += x[d];
  x[b] = lanes::rotl(x[b] ^ x[c], 7);
}

// The 20 rounds, in place.
WGHUB_LANES_INLINE void rounds(U32x16 (&x)[16]) {
  for (int i = 0; i < 10; ++i) {
    quarter(x, 0, 4, 8, 12);
    quarter(x, 1, 5, 9, 13);
    quarter(x, 2, 6, 10, 14);
    quarter(x, 3, 7, 11, 15);
    quarter(x, 0, 5, 10, 15);
    quarter(x, 1, 6, 11, 12);
    quarter(x, 2, 7, 8, 13);
    quarter(x, 3, 4, 9, 14);
  }
}

// One ChaCha20 block per lane: key (8 words per lane), counter, nonce words.
WGHUB_LANES_INLINE void block(U32x16 (&out)[16], const U32x16 (&key)[8], std::uint32_t counter,
                              const U32x16 (&nonce)[3]) {
  U32x16 in[16];
  for (int i = 0; i < 4; ++i) in[i] = lanes::splat<U32x16>(kSigma[i]);
  for (int i = 0; i < 8; ++i) in[4 + i] = key[i];
  in[12] = lanes::splat<U32x16>(counter);
  for (int i = 0; i < 3; ++i) in[13 + i] = nonce[i];
  for (int i = 0; i < 16; ++i) out[i] = in[i];
  rounds(out);
  for (int i = 0; i < 16; ++i) out[i] += in[i];
}

WGHUB_LANES_INLINE void seal_lanes(const std::uint8_t key[32], const std::uint8_t* const nonce[],
                                   const std::uint8_t* const plain[],
                                   const std::uint8_t* const ad[], std::uint8_t* const dst[],
                                   std::size_t n) {
  // HChaCha20(key, nonce[0, 16)): the subkey is words 0-3 and 12-15 of the
  // rounds' output, without the feed-forward.
  U32x16 x[16];
  for (int i = 0; i < 4; ++i) x[i] = lanes::splat<U32x16>(kSigma[i]);
  for (int i = 0; i < 8; ++i) x[4 + i] = lanes::splat<U32x16>(lanes::load_le32(key + 4 * i));
  U32x16 n16[4];
  lanes::transpose_in(n16, nonce, n);
  for (int i = 0; i < 4; ++i) x[12 + i] = n16[i];
  rounds(x);
  U32x16 subkey[8];
  for (int i = 0; i < 4; ++i) {
    subkey[i] = x[i];
    subkey[4 + i] = x[12 + i];
  }
  // ChaCha20 under the subkey with nonce 0^4 || nonce[16, 24): block 0
  // gives the Poly1305 key, block 1 the keystream for the 16 bytes.
  const std::uint8_t* tail[lanes::kLanes];
  for (std::size_t l = 0; l < n; ++l) tail[l] = nonce[l] + 16;
  U32x16 n8[2];
  lanes::transpose_in(n8, tail, n);
  const U32x16 ietf_nonce[3] = {U32x16{}, n8[0], n8[1]};
  U32x16 b0[16], b1[16];
  block(b0, subkey, 0, ietf_nonce);
  block(b1, subkey, 1, ietf_nonce);
  U32x16 p[4];
  lanes::transpose_in(p, plain, n);
  U32x16 c[4];
  for (int i = 0; i < 4; ++i) c[i] = p[i] ^ b1[i];
  lanes::transpose_out(dst, c, n);
  U32x16 poly_key[8];
  for (int i = 0; i < 8; ++i) poly_key[i] = b0[i];
  alignas(16) std::uint8_t poly_keys[lanes::kLanes][32];
  std::uint8_t* key_rows[lanes::kLanes];
  for (std::size_t l = 0; l < n; ++l) key_rows[l] = poly_keys[l];
  lanes::transpose_out(key_rows, poly_key, n);
  // Poly1305 over ad || ciphertext || le64(16) || le64(16): both 16 bytes,
  // so no padding.
  alignas(16) std::uint8_t mac_in[48] = {};
  mac_in[32] = kSealPlainLen;
  mac_in[40] = kSealPlainLen;
  for (std::size_t l = 0; l < n; ++l) {
    std::memcpy(mac_in, ad[l], 16);
    std::memcpy(mac_in + 16, dst[l], 16);
    crypto_onetimeauth_poly1305(dst[l] + kSealPlainLen, mac_in, sizeof mac_in, poly_keys[l]);
  }
  wipe(poly_keys, sizeof poly_keys);
  wipe(x, sizeof x);
  wipe(subkey, sizeof subkey);
  wipe(b0, sizeof b0);
  wipe(b1, sizeof b1);
  wipe(p, sizeof p);
  wipe(poly_key, sizeof poly_key);
}

WGHUB_LANES_AVX512 void seal_avx512(const std::uint8_t key[32], const std::uint8_t* const nonce[],
                                    const std::uint8_t* const plain[],
                                    const std::uint8_t* const ad[], std::uint8_t* const dst[],
                                    std::size_t n) {
  seal_lanes(key, nonce, plain, ad, dst, n);
}

void seal_generic(const std::uint8_t key[32], const std::uint8_t* const nonce[],
                  const std::uint8_t* const plain[], const std::uint8_t* const ad[],
                  std::uint8_t* const dst[], std::size_t n) {
  seal_lanes(key, nonce, plain, ad, dst, n);
}

}  // namespace

void xaead_seal16_lanes(const std::uint8_t key[32], const std::uint8_t* const nonce[],
                        const std::uint8_t* const plain[], const std::uint8_t* const ad[],
                        std::uint8_t* const dst[], std::size_t n) {
  if (n == 0) return;
  if (lanes::have_avx512()) {
    seal_avx512(key, nonce, plain, ad, dst, n);
  } else {
    seal_generic(key, nonce, plain, ad, dst, n);
  }
}

}  // namespace wghub::crypto
