// BLAKE2s (RFC 7693 Appendix B and E, the BLAKE2 reference KAT), HMAC-BLAKE2s
// and the WireGuard KDF (wireguard-go device/kdf_test.go).
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "crypto/blake2s.hpp"
#include "tests/unit/crypto/hex.hpp"

namespace wghub::crypto {
namespace {

using test::counting_bytes;
using test::hex;
using test::unhex;

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(Blake2s, Rfc7693AppendixBAbc) {
  std::array<std::uint8_t, 32> out{};
  blake2s(out, bytes_of("abc"));
  EXPECT_EQ(hex(out), "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
}

TEST(Blake2s, UnkeyedKat) {
  // blake2s-kat.txt, unkeyed, inputs 00 01 02 ... of the given length.
  const struct {
    std::size_t len;
    const char* hash;
  } cases[] = {
      {0, "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9"},
      {63, "e57cb79487dd57902432b250733813bd96a84efce59f650fac26e6696aefafc3"},
      {64, "56f34e8b96557e90c1f24b52d0c89d51086acf1b00f634cf1dde9233b8eaaa3e"},
      {65, "1b53ee94aaf34e4b159d48de352c7f0661d0a40edff95a0b1639b4090e974472"},
  };
  for (const auto& c : cases) {
    std::array<std::uint8_t, 32> out{};
    blake2s(out, counting_bytes(c.len));
    EXPECT_EQ(hex(out), c.hash) << "len " << c.len;
  }
}

TEST(Blake2s, KeyedKat) {
  // blake2s-kat.txt keyed section: key 00 01 ... 1f, inputs 00 01 02 ...
  const auto key = counting_bytes(32);
  const struct {
    std::size_t len;
    const char* hash;
  } cases[] = {
      {0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49"},
      {1, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1"},
      {2, "6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803"},
      {63, "c65382513f07460da39833cb666c5ed82e61b9e998f4b0c4287cee56c3cc9bcd"},
      {64, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4"},
      {65, "21fe0ceb0052be7fb0f004187cacd7de67fa6eb0938d927677f2398c132317a8"},
      {78, "172ffc67153d12e0ca76a8b6cd5d4731885b39ce0cac93a8972a18006c8b8baf"},
      {255, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd"},
  };
  for (const auto& c : cases) {
    const auto in = counting_bytes(c.len);
    std::array<std::uint8_t, 32> out{};
    blake2s(out, in, key);
    EXPECT_EQ(hex(out), c.hash) << "one-shot, len " << c.len;

    // The incremental interface, fed in uneven pieces, must agree.
    Blake2s h(32, key);
    std::size_t pos = 0;
    for (std::size_t step = 1; pos < in.size(); step = step * 3 + 1) {
      const std::size_t n = std::min(step, in.size() - pos);
      h.update(std::span(in).subspan(pos, n));
      pos += n;
    }
    std::array<std::uint8_t, 32> inc{};
    h.final(inc);
    EXPECT_EQ(hex(inc), c.hash) << "incremental, len " << c.len;
  }
}

// RFC 7693 Appendix E: deterministic input generator of the self-test.
std::vector<std::uint8_t> selftest_seq(std::size_t len, std::uint32_t seed) {
  std::uint32_t a = 0xDEAD4BADu * seed;
  std::uint32_t b = 1;
  std::vector<std::uint8_t> out(len);
  for (std::size_t i = 0; i < len; ++i) {
    const std::uint32_t t = a + b;
    a = b;
    b = t;
    out[i] = static_cast<std::uint8_t>(t >> 24);
  }
  return out;
}

TEST(Blake2s, Rfc7693AppendixESelfTest) {
  // Exercises 16/20/28/32-byte outputs, unkeyed and keyed (key length =
  // output length), across block boundaries; the hash of all results is
  // the published grand total.
  Blake2s total(32);
  for (std::size_t outlen : {16u, 20u, 28u, 32u}) {
    for (std::size_t inlen : {0u, 3u, 64u, 65u, 255u, 1024u}) {
      const auto in = selftest_seq(inlen, static_cast<std::uint32_t>(inlen));
      std::array<std::uint8_t, 32> md{};
      blake2s(std::span(md).first(outlen), in);
      total.update(std::span(md).first(outlen));
      const auto key = selftest_seq(outlen, static_cast<std::uint32_t>(outlen));
      blake2s(std::span(md).first(outlen), in, key);
      total.update(std::span(md).first(outlen));
    }
  }
  std::array<std::uint8_t, 32> out{};
  total.final(out);
  EXPECT_EQ(hex(out), "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe");
}

TEST(Blake2s, SixteenByteOutputIsNotATruncation) {
  // BLAKE2s-128 (mac1/mac2) encodes the output length in its parameter
  // block, so it differs from the first 16 bytes of BLAKE2s-256.
  const auto key = counting_bytes(32);
  std::array<std::uint8_t, 16> mac{};
  std::array<std::uint8_t, 32> full{};
  blake2s(mac, bytes_of("abc"), key);
  blake2s(full, bytes_of("abc"), key);
  EXPECT_NE(hex(mac), hex(std::span(full).first(16)));

  Blake2s h(16, key);
  std::array<std::uint8_t, 16> inc{};
  h.update(bytes_of("a")).update(bytes_of("bc")).final(inc);
  EXPECT_EQ(hex(inc), hex(mac));
}

TEST(HmacBlake2s, LongKeyIsHashedFirst) {
  // RFC 2104: a key longer than the 64-byte block is replaced by H(key), so
  // both must give the same MAC. A 64-byte key is used as is (no hashing).
  const auto long_key = counting_bytes(100);
  std::array<std::uint8_t, 32> hashed_key{};
  blake2s(hashed_key, long_key);
  std::array<std::uint8_t, 32> a{}, b{}, c{};
  hmac_blake2s(a, long_key, bytes_of("message"));
  hmac_blake2s(b, hashed_key, bytes_of("message"));
  EXPECT_EQ(hex(a), hex(b));
  const auto block_key = counting_bytes(64);
  hmac_blake2s(c, block_key, bytes_of("message"));
  std::array<std::uint8_t, 32> block_key_hashed{};
  blake2s(block_key_hashed, block_key);
  std::array<std::uint8_t, 32> d{};
  hmac_blake2s(d, block_key_hashed, bytes_of("message"));
  EXPECT_NE(hex(c), hex(d));
}

struct KdfVector {
  const char* key;
  const char* input;
  const char* t0;
  const char* t1;
  const char* t2;
};

// wireguard-go device/kdf_test.go (TestKDF); t0..t2 there are the first,
// second and third KDF outputs.
constexpr KdfVector kKdfVectors[] = {
    {"746573742d6b6579", "746573742d696e707574",
     "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
     "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
     "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24"},
    {"776972656775617264", "776972656775617264",
     "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
     "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
     "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160"},
    {"", "", "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
     "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
     "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e"},
};

TEST(Kdf, WireguardGoVectors) {
  for (const auto& v : kKdfVectors) {
    const auto key = unhex(v.key);
    const auto input = unhex(v.input);
    std::array<std::uint8_t, 32> t0{}, t1{}, t2{};

    kdf(key, input, t0.data(), t1.data(), t2.data());  // KDF3
    EXPECT_EQ(hex(t0), v.t0);
    EXPECT_EQ(hex(t1), v.t1);
    EXPECT_EQ(hex(t2), v.t2);

    t0 = {};
    t1 = {};
    t2 = {};
    kdf(key, input, t0.data(), t1.data());  // KDF2
    EXPECT_EQ(hex(t0), v.t0);
    EXPECT_EQ(hex(t1), v.t1);
    EXPECT_EQ(hex(t2), std::string(64, '0')) << "KDF2 wrote a third output";

    t0 = {};
    kdf(key, input, t0.data());  // KDF1
    EXPECT_EQ(hex(t0), v.t0);
  }
}

TEST(Kdf, AcceptsA32ByteChainingKeySpan) {
  // The protocol's call shape: a fixed 32-byte chaining key.
  std::array<std::uint8_t, 32> ck{};
  std::span<const std::uint8_t, 32> fixed(ck);
  std::array<std::uint8_t, 32> a{}, b{};
  kdf(fixed, {}, a.data());
  kdf(std::span<const std::uint8_t>(ck), {}, b.data());
  EXPECT_EQ(hex(a), hex(b));
  EXPECT_NE(hex(a), std::string(64, '0'));
}

}  // namespace
}  // namespace wghub::crypto
