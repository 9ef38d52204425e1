// TAI64N encoding and rounding (kernel noise.c tai64n_now), Secret<N>
// semantics, and base64 key parsing.
#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>
#include <type_traits>

#include "crypto/base64.hpp"
#include "crypto/random.hpp"
#include "crypto/secret.hpp"
#include "crypto/tai64n.hpp"
#include "tests/unit/crypto/hex.hpp"

namespace wghub::crypto {
namespace {

using test::hex;

timespec at(std::int64_t sec, long nsec) {
  timespec t{};
  t.tv_sec = static_cast<time_t>(sec);
  t.tv_nsec = nsec;
  return t;
}

TEST(Tai64n, KnownTimeEncodes) {
  // 1700000000 s = 0x6553f100; TAI64 label = 2^62 + 10 + seconds, big endian.
  // 123456789 ns rounds down to 7 * 2^24 = 0x07000000.
  EXPECT_EQ(hex(tai64n_from(at(1700000000, 123456789))), "400000006553f10a07000000");
  EXPECT_EQ(hex(tai64n_from(at(0, 0))), "400000000000000a00000000");
}

TEST(Tai64n, NanosecondsRoundDownToPowerOfTwoBelowFiftiethOfASecond) {
  // rounddown_pow_of_two(1e9 / 50) = 2^24 = 16777216 ns.
  EXPECT_EQ(hex(tai64n_from(at(1, 16777215))), "400000000000000b00000000");
  EXPECT_EQ(hex(tai64n_from(at(1, 16777216))), "400000000000000b01000000");
  EXPECT_EQ(hex(tai64n_from(at(1, 33554431))), "400000000000000b01000000");
  // 999999999 ns -> 59 * 2^24 = 989855744 = 0x3b000000.
  EXPECT_EQ(hex(tai64n_from(at(1, 999999999))), "400000000000000b3b000000");
}

TEST(Tai64n, Ordering) {
  const Tai64n a = tai64n_from(at(1700000000, 0));
  const Tai64n b = tai64n_from(at(1700000000, 20'000'000));  // next 2^24 ns step
  const Tai64n c = tai64n_from(at(1700000001, 0));
  const Tai64n same_step = tai64n_from(at(1700000000, 16'000'000));
  EXPECT_TRUE(tai64n_after(b, a));
  EXPECT_FALSE(tai64n_after(a, b));
  EXPECT_TRUE(tai64n_after(c, b));  // seconds dominate nanoseconds
  EXPECT_FALSE(tai64n_after(a, a));
  // Within one rounding step two timestamps are equal, so a replayed
  // initiation in the same step is not "newer".
  EXPECT_EQ(hex(same_step), hex(a));
  EXPECT_FALSE(tai64n_after(same_step, a));
  // Seconds past 2^32 (year 2106) still order correctly.
  EXPECT_TRUE(tai64n_after(tai64n_from(at(std::int64_t{1} << 33, 0)), c));
  // Now is after 2023-11-14.
  EXPECT_TRUE(tai64n_after(tai64n_now(), a));
}

static_assert(!std::is_copy_constructible_v<Secret<32>>);
static_assert(!std::is_copy_assignable_v<Secret<32>>);
static_assert(std::is_nothrow_move_constructible_v<Secret<32>>);
static_assert(std::is_nothrow_move_assignable_v<Secret<32>>);

TEST(Secret, StartsZeroMovesAndClears) {
  Key k;
  EXPECT_TRUE(k.is_zero());
  std::array<std::uint8_t, 32> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i + 1);
  k.assign(bytes);
  EXPECT_FALSE(k.is_zero());
  EXPECT_EQ(hex(k.span()), hex(bytes));

  Key moved(std::move(k));
  EXPECT_EQ(hex(moved.span()), hex(bytes));
  EXPECT_TRUE(k.is_zero());  // NOLINT(bugprone-use-after-move): the contract under test

  Key assigned;
  assigned = std::move(moved);
  EXPECT_EQ(hex(assigned.span()), hex(bytes));
  EXPECT_TRUE(moved.is_zero());  // NOLINT(bugprone-use-after-move)

  assigned.clear();
  EXPECT_TRUE(assigned.is_zero());
  EXPECT_EQ(hex(assigned.span()), std::string(64, '0'));
}

TEST(RandomBuffer, NoNonceRepeatsAcrossRefillsOrBuffers) {
  // 24-byte nonces over 40 refills (past the first reseed's neighbourhood
  // and every ratchet step): none repeats, none is all zeros.
  RandomBuffer a, b;
  std::set<std::array<std::uint8_t, 24>> seen;
  for (std::size_t i = 0; i < 40 * RandomBuffer::kSize / 24; ++i) {
    std::array<std::uint8_t, 24> n{};
    (i % 2 ? a : b).take(n);
    EXPECT_NE(n, (std::array<std::uint8_t, 24>{}));
    EXPECT_TRUE(seen.insert(n).second) << "nonce " << i << " repeated";
  }
}

TEST(EqualCt, ComparesContents) {
  const std::uint8_t a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4}, c[4] = {1, 2, 3, 5};
  EXPECT_TRUE(equal_ct(a, b, 4));
  EXPECT_FALSE(equal_ct(a, c, 4));
  EXPECT_TRUE(equal_ct(a, c, 3));
}

TEST(Base64, RoundTripAndKnownEncoding) {
  std::array<std::uint8_t, 32> zero{};
  EXPECT_EQ(key_to_base64(zero.data()), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  std::array<std::uint8_t, 32> key{};
  for (int round = 0; round < 64; ++round) {
    for (std::size_t i = 0; i < key.size(); ++i) {
      key[i] = static_cast<std::uint8_t>(round * 37 + i * 11 + (round ^ i));
    }
    const std::string text = key_to_base64(key.data());
    ASSERT_EQ(text.size(), 44u);
    const auto back = key_from_base64(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(hex(*back), hex(key));
  }
  // RFC 7748 6.1 Alice's public key, as wg(8) prints it.
  const auto alice = key_from_base64("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(hex(*alice), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
}

TEST(Base64, RejectsMalformedKeys) {
  const std::string good = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
  ASSERT_TRUE(key_from_base64(good).has_value());
  const char* bad[] = {
      "",
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo",    // missing padding
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmoA",   // 44 chars, no '='
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm=",    // 43 chars
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo==",  // 45 chars
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbT!o=",   // bad character
      "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=",   // URL-safe alphabet
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066Spjqqb mo=",   // space
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm==",   // 31 bytes
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=",   // non-zero padding bits
  };
  for (const char* text : bad)
    EXPECT_FALSE(key_from_base64(text).has_value()) << '"' << text << '"';
}

}  // namespace
}  // namespace wghub::crypto
