// The 16-lane kernels against the libraries we did not write: keyed
// BLAKE2s-128 against libb2 (itself checked against RFC 7693 in
// blake2s_test.cpp), XChaCha20-Poly1305 against libsodium, for every lane
// count and the message lengths WireGuard uses and around them, on the
// AVX-512 build (where the CPU has it) and the generic build.
#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <vector>

#include "crypto/blake2s.hpp"
#include "crypto/blake2s_lanes.hpp"
#include "crypto/lanes.hpp"
#include "crypto/random.hpp"
#include "crypto/xchacha_lanes.hpp"

namespace wghub::crypto {
namespace {

class Lanes : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { lanes::use_avx512_for_testing(GetParam()); }
  void TearDown() override { lanes::use_avx512_for_testing(true); }
};

TEST_P(Lanes, MacMatchesLibb2ForEveryLaneCountAndLength) {
  std::array<std::uint8_t, 32> key;
  random_bytes(key);
  const Blake2sMacKey prekeyed(key);
  // 6 and 18: cookie inputs (IPv4, IPv6); 60 and 116: mac1 of a response
  // and an initiation; 92 and 132: their mac2; block edges around them.
  for (const std::size_t len : {1, 6, 18, 60, 63, 64, 65, 92, 116, 127, 128, 129, 132, 200}) {
    for (std::size_t n = 1; n <= kMacLanes; ++n) {
      std::vector<std::vector<std::uint8_t>> msgs(n, std::vector<std::uint8_t>(len));
      std::vector<const std::uint8_t*> in(n);
      for (std::size_t l = 0; l < n; ++l) {
        random_bytes(msgs[l]);
        in[l] = msgs[l].data();
      }
      std::vector<std::array<std::uint8_t, 16>> out(n);
      blake2s_mac_lanes(prekeyed, in.data(), len, reinterpret_cast<std::uint8_t(*)[16]>(out.data()),
                        n);
      for (std::size_t l = 0; l < n; ++l) {
        std::array<std::uint8_t, 16> want;
        blake2s(want, msgs[l], key);
        ASSERT_EQ(out[l], want) << "len " << len << ", " << n << " lanes, lane " << l;
      }
    }
  }
}

TEST_P(Lanes, MacKeyChangesTheMac) {
  std::array<std::uint8_t, 32> key{};
  Blake2sMacKey a(key);
  key[31] = 1;
  Blake2sMacKey b(key);
  const std::array<std::uint8_t, 6> msg{1, 2, 3, 4, 5, 6};
  const std::uint8_t* in[1] = {msg.data()};
  std::uint8_t out_a[1][16], out_b[1][16];
  blake2s_mac_lanes(a, in, msg.size(), out_a, 1);
  blake2s_mac_lanes(b, in, msg.size(), out_b, 1);
  EXPECT_NE(0, std::memcmp(out_a[0], out_b[0], 16));
}

TEST_P(Lanes, SealMatchesLibsodiumForEveryLaneCount) {
  ASSERT_GE(sodium_init(), 0);
  for (int round = 0; round < 8; ++round) {
    std::array<std::uint8_t, 32> key;
    random_bytes(key);
    for (std::size_t n = 1; n <= kSealLanes; ++n) {
      std::vector<std::array<std::uint8_t, 24>> nonces(n);
      std::vector<std::array<std::uint8_t, 16>> plains(n), ads(n);
      std::vector<std::array<std::uint8_t, 32>> outs(n);
      std::vector<const std::uint8_t*> nonce(n), plain(n), ad(n);
      std::vector<std::uint8_t*> dst(n);
      for (std::size_t l = 0; l < n; ++l) {
        random_bytes(nonces[l]);
        random_bytes(plains[l]);
        random_bytes(ads[l]);
        nonce[l] = nonces[l].data();
        plain[l] = plains[l].data();
        ad[l] = ads[l].data();
        dst[l] = outs[l].data();
      }
      xaead_seal16_lanes(key.data(), nonce.data(), plain.data(), ad.data(), dst.data(), n);
      for (std::size_t l = 0; l < n; ++l) {
        std::array<std::uint8_t, 32> want;
        unsigned long long want_len = 0;
        crypto_aead_xchacha20poly1305_ietf_encrypt(want.data(), &want_len, plains[l].data(), 16,
                                                   ads[l].data(), 16, nullptr, nonces[l].data(),
                                                   key.data());
        ASSERT_EQ(want_len, 32u);
        ASSERT_EQ(outs[l], want) << n << " lanes, lane " << l;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Builds, Lanes, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "Avx512" : "Generic");
                         });

}  // namespace
}  // namespace wghub::crypto
