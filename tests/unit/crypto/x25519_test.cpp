// X25519: RFC 7748 sections 5.2 and 6.1, and the low-order points that must
// be refused (libsodium's blocklist; the kernel's selftest has the same set).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "crypto/x25519.hpp"
#include "tests/unit/crypto/hex.hpp"

namespace wghub::crypto {
namespace {

using test::hex;
using test::unhex;
using Bytes32 = std::array<std::uint8_t, 32>;

Bytes32 b32(const char* text) {
  const auto v = unhex(text);
  Bytes32 out{};
  std::copy(v.begin(), v.end(), out.begin());
  return out;
}

TEST(X25519, Rfc7748Section52Vectors) {
  const struct {
    const char* scalar;
    const char* u;
    const char* out;
  } cases[] = {
      {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
       "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
       "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
      {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
       "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
       "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
  };
  for (const auto& c : cases) {
    Bytes32 out{};
    ASSERT_TRUE(x25519(out, b32(c.scalar), b32(c.u)));
    EXPECT_EQ(hex(out), c.out);
  }
}

TEST(X25519, Rfc7748Section52Iterations) {
  // k = u = 9; each round: k, u = X25519(k, u), k.
  Bytes32 k = b32("0900000000000000000000000000000000000000000000000000000000000000");
  Bytes32 u = k;
  for (int i = 1; i <= 1000; ++i) {
    Bytes32 next{};
    ASSERT_TRUE(x25519(next, k, u));
    u = k;
    k = next;
    if (i == 1) {
      EXPECT_EQ(hex(k), "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    }
  }
  EXPECT_EQ(hex(k), "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

TEST(X25519, Rfc7748Section61DiffieHellman) {
  const Bytes32 alice = b32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const Bytes32 bob = b32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  Bytes32 alice_pub{}, bob_pub{}, s1{}, s2{};
  x25519_public(alice_pub, alice);
  x25519_public(bob_pub, bob);
  EXPECT_EQ(hex(alice_pub), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(hex(bob_pub), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  ASSERT_TRUE(x25519(s1, alice, bob_pub));
  ASSERT_TRUE(x25519(s2, bob, alice_pub));
  EXPECT_EQ(hex(s1), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_EQ(hex(s2), hex(s1));
}

TEST(X25519, LowOrderPointsAreRefusedAndOutputZeroed) {
  // u-coordinates of small order (libsodium's blocklist): 0, 1, the two
  // order-8 points, p-1, p and p+1; plus 0 and 1 with the ignored top bit set
  // (RFC 7748 section 5 masks bit 255).
  const char* points[] = {
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0100000000000000000000000000000000000000000000000000000000000000",
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
      "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "0000000000000000000000000000000000000000000000000000000000000080",
      "0100000000000000000000000000000000000000000000000000000000000080",
  };
  const Bytes32 scalar = b32("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
  for (const char* p : points) {
    Bytes32 out;
    out.fill(0xaa);  // must be overwritten with zeros
    EXPECT_FALSE(x25519(out, scalar, b32(p))) << p;
    EXPECT_EQ(hex(out), std::string(64, '0')) << p;
  }
}

TEST(X25519, GeneratedKeysAreClampedAndAgree) {
  Bytes32 a{}, b{}, a_pub{}, b_pub{}, s1{}, s2{};
  x25519_generate(a);
  x25519_generate(b);
  EXPECT_NE(hex(a), hex(b));
  for (const auto& k : {a, b}) {
    EXPECT_EQ(k[0] & 7, 0);
    EXPECT_EQ(k[31] & 0x80, 0);
    EXPECT_EQ(k[31] & 0x40, 0x40);
  }
  x25519_public(a_pub, a);
  x25519_public(b_pub, b);
  ASSERT_TRUE(x25519(s1, a, b_pub));
  ASSERT_TRUE(x25519(s2, b, a_pub));
  EXPECT_EQ(hex(s1), hex(s2));
}

}  // namespace
}  // namespace wghub::crypto
