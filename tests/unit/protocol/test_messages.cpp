// Wire formats and protocol constants (dataplane/messages.hpp) against the
// whitepaper's sizes, the kernel's padding rule and little-endian fields.
#include <gtest/gtest.h>

#include <cstddef>
#include <limits>

#include "dataplane/messages.hpp"

namespace wghub::dp {
namespace {

TEST(Messages, SizesMatchTheWhitepaper) {
  EXPECT_EQ(sizeof(MessageInitiation), 148u);
  EXPECT_EQ(sizeof(MessageResponse), 92u);
  EXPECT_EQ(sizeof(MessageCookieReply), 64u);
  EXPECT_EQ(sizeof(MessageDataHeader), 16u);
  EXPECT_EQ(kMessageDataMinSize, 32u);
}

TEST(Messages, FieldOffsets) {
  // Whitepaper 5.4.2/5.4.3/5.4.7/5.4.6 layouts.
  EXPECT_EQ(offsetof(MessageInitiation, sender_index), 4u);
  EXPECT_EQ(offsetof(MessageInitiation, unencrypted_ephemeral), 8u);
  EXPECT_EQ(offsetof(MessageInitiation, encrypted_static), 40u);
  EXPECT_EQ(offsetof(MessageInitiation, encrypted_timestamp), 88u);
  EXPECT_EQ(kMac1OffsetInitiation, 116u);
  EXPECT_EQ(offsetof(MessageResponse, sender_index), 4u);
  EXPECT_EQ(offsetof(MessageResponse, receiver_index), 8u);
  EXPECT_EQ(offsetof(MessageResponse, unencrypted_ephemeral), 12u);
  EXPECT_EQ(offsetof(MessageResponse, encrypted_nothing), 44u);
  EXPECT_EQ(kMac1OffsetResponse, 60u);
  EXPECT_EQ(offsetof(MessageCookieReply, receiver_index), 4u);
  EXPECT_EQ(offsetof(MessageCookieReply, nonce), 8u);
  EXPECT_EQ(offsetof(MessageCookieReply, encrypted_cookie), 32u);
  EXPECT_EQ(offsetof(MessageDataHeader, receiver_index), 4u);
  EXPECT_EQ(offsetof(MessageDataHeader, counter), 8u);
}

TEST(Messages, FieldsAreLittleEndianOnTheWire) {
  MessageDataHeader h{};
  h.header.set_type(MessageType::kData);
  h.receiver_index.set(0x11223344u);
  h.counter.set(0x0102030405060708ull);
  const auto* b = reinterpret_cast<const std::uint8_t*>(&h);
  const std::uint8_t expected[16] = {4,    0,    0,    0,    0x44, 0x33, 0x22, 0x11,
                                     0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(b[i], expected[i]) << "byte " << i;
  EXPECT_EQ(h.header.message_type(), MessageType::kData);
  EXPECT_EQ(h.receiver_index.get(), 0x11223344u);
  EXPECT_EQ(h.counter.get(), 0x0102030405060708ull);
}

TEST(Messages, Constants) {
  EXPECT_EQ(kRekeyAfterMessages, std::uint64_t{1} << 60);
  // 2^64 - 2^13 - 1: adding 2^13 + 1 wraps to exactly zero.
  EXPECT_EQ(kRejectAfterMessages + (std::uint64_t{1} << 13) + 1, 0u);
  EXPECT_EQ(kRekeyAfterTime.count(), 120);
  EXPECT_EQ(kRejectAfterTime.count(), 180);
  EXPECT_EQ(kRekeyAttemptTime.count(), 90);
  EXPECT_EQ(kRekeyTimeout.count(), 5);
  EXPECT_EQ(kKeepaliveTimeout.count(), 10);
  EXPECT_EQ(kCookieSecretMaxAge.count(), 120);
  EXPECT_EQ(kMessagePaddingMultiple, 16u);
}

struct PadCase {
  std::size_t plain;
  std::size_t mtu;
  std::size_t padded;
};

TEST(Messages, PaddedLength) {
  const PadCase cases[] =
      {
          {0, 1420, 0},  // keepalive stays empty
          {1, 1420, 16},      {15, 1420, 16},
          {16, 1420, 16},     {17, 1420, 32},
          {84, 1420, 96},     {1400, 1420, 1408},
          {1408, 1420, 1408}, {1409, 1420, 1420},  // 1424 would exceed the MTU: clamp
          {1419, 1420, 1420}, {1420, 1420, 1420},
          {1500, 1420, 1500},  // beyond the MTU: pad the remainder (80 -> 80)
          {1501, 1420, 1516},  // remainder 81 -> 96
          {17, 0, 32},         // no MTU known: plain multiple of 16
          {0, 0, 0},          {100, 20, 100},
          {7, 9, 9},
      };
  for (const auto& c : cases)
    EXPECT_EQ(padded_length(c.plain, c.mtu), c.padded) << c.plain << " / mtu " << c.mtu;
  static_assert(padded_length(33, 1420) == 48);
}

}  // namespace
}  // namespace wghub::dp
