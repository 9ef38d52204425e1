// WireGuard wire formats and protocol constants in one place (whitepaper
// sections 5.4 and 6, the kernel's messages.h). Every multi-byte field on the
// wire is little-endian; the structs hold those fields as byte arrays behind
// Le32/Le64 accessors, so they are correct on any host and have alignment 1
// (a struct can be overlaid on any offset of a packet buffer).
#pragma once

#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace wghub::dp {

// A little-endian 32-bit field as it lies on the wire.
struct Le32 {
  std::array<std::uint8_t, 4> bytes{};

  // One load or store on a little-endian CPU (the byte loop otherwise).
  constexpr std::uint32_t get() const noexcept {
    if constexpr (std::endian::native == std::endian::little) {
      return std::bit_cast<std::uint32_t>(bytes);
    } else {
      return std::uint32_t{bytes[0]} | std::uint32_t{bytes[1]} << 8 |
             std::uint32_t{bytes[2]} << 16 | std::uint32_t{bytes[3]} << 24;
    }
  }
  constexpr void set(std::uint32_t v) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
      bytes = std::bit_cast<std::array<std::uint8_t, 4>>(v);
    } else {
      for (std::size_t i = 0; i < 4; ++i) bytes[i] = static_cast<std::uint8_t>(v >> (8 * i));
    }
  }
};

// A little-endian 64-bit field as it lies on the wire (the data counter).
struct Le64 {
  std::array<std::uint8_t, 8> bytes{};

  constexpr std::uint64_t get() const noexcept {
    if constexpr (std::endian::native == std::endian::little) {
      return std::bit_cast<std::uint64_t>(bytes);
    } else {
      std::uint64_t v = 0;
      for (std::size_t i = 0; i < 8; ++i) v |= std::uint64_t{bytes[i]} << (8 * i);
      return v;
    }
  }
  constexpr void set(std::uint64_t v) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
      bytes = std::bit_cast<std::array<std::uint8_t, 8>>(v);
    } else {
      for (std::size_t i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(v >> (8 * i));
    }
  }
};
static_assert(sizeof(Le32) == 4 && alignof(Le32) == 1);
static_assert(sizeof(Le64) == 8 && alignof(Le64) == 1);

// The first byte of every message is its type, followed by three zero bytes;
// read as one little-endian u32 the word equals the type (whitepaper 5.4.2).
enum class MessageType : std::uint32_t {
  kInvalid = 0,
  kInitiation = 1,
  kResponse = 2,
  kCookieReply = 3,
  kData = 4,
};

// Noise sizes (whitepaper 5.4).
inline constexpr std::size_t kKeyLen = 32;          // X25519 keys, symmetric keys
inline constexpr std::size_t kHashLen = 32;         // BLAKE2s-256
inline constexpr std::size_t kAuthTagLen = 16;      // Poly1305
inline constexpr std::size_t kTimestampLen = 12;    // TAI64N
inline constexpr std::size_t kCookieLen = 16;       // mac1, mac2, cookie
inline constexpr std::size_t kCookieNonceLen = 24;  // XChaCha20 nonce

inline constexpr std::size_t encrypted_len(std::size_t plain_len) {
  return plain_len + kAuthTagLen;
}

struct MessageHeader {
  Le32 type;

  constexpr MessageType message_type() const noexcept {
    return static_cast<MessageType>(type.get());
  }
  constexpr void set_type(MessageType t) noexcept { type.set(static_cast<std::uint32_t>(t)); }
};

// The trailer of initiations and responses (whitepaper 5.4.4): mac1 covers
// everything before it, mac2 everything before mac2 (i.e. including mac1).
struct MessageMacs {
  std::array<std::uint8_t, kCookieLen> mac1;
  std::array<std::uint8_t, kCookieLen> mac2;
};

// Handshake initiation (whitepaper 5.4.2): type 1.
struct MessageInitiation {
  MessageHeader header;
  Le32 sender_index;
  std::array<std::uint8_t, kKeyLen> unencrypted_ephemeral;
  std::array<std::uint8_t, encrypted_len(kKeyLen)> encrypted_static;
  std::array<std::uint8_t, encrypted_len(kTimestampLen)> encrypted_timestamp;
  MessageMacs macs;
};

// Handshake response (whitepaper 5.4.3): type 2. The encrypted payload is
// empty, so only its tag is sent.
struct MessageResponse {
  MessageHeader header;
  Le32 sender_index;
  Le32 receiver_index;
  std::array<std::uint8_t, kKeyLen> unencrypted_ephemeral;
  std::array<std::uint8_t, encrypted_len(0)> encrypted_nothing;
  MessageMacs macs;
};

// Cookie reply (whitepaper 5.4.7): type 3. receiver_index is the sender index
// of the message it answers.
struct MessageCookieReply {
  MessageHeader header;
  Le32 receiver_index;
  std::array<std::uint8_t, kCookieNonceLen> nonce;
  std::array<std::uint8_t, encrypted_len(kCookieLen)> encrypted_cookie;
};

// Header of a transport data message (whitepaper 5.4.6): type 4, followed by
// the encrypted, padded inner packet and its 16-byte tag.
struct MessageDataHeader {
  MessageHeader header;
  Le32 receiver_index;
  Le64 counter;
};

static_assert(sizeof(MessageHeader) == 4);
static_assert(sizeof(MessageMacs) == 32);
static_assert(sizeof(MessageInitiation) == 148);
static_assert(sizeof(MessageResponse) == 92);
static_assert(sizeof(MessageCookieReply) == 64);
static_assert(sizeof(MessageDataHeader) == 16);
static_assert(alignof(MessageInitiation) == 1 && alignof(MessageResponse) == 1 &&
              alignof(MessageCookieReply) == 1 && alignof(MessageDataHeader) == 1);

inline constexpr std::size_t kMessageInitiationSize = sizeof(MessageInitiation);
inline constexpr std::size_t kMessageResponseSize = sizeof(MessageResponse);
inline constexpr std::size_t kMessageCookieReplySize = sizeof(MessageCookieReply);
inline constexpr std::size_t kMessageDataHeaderSize = sizeof(MessageDataHeader);
// The exact size of a handshake-class message (kernel prepare_skb_header);
// 0 for other types (data messages have a minimum, not a size).
constexpr std::size_t handshake_message_size(MessageType type) {
  switch (type) {
    case MessageType::kInitiation:
      return kMessageInitiationSize;
    case MessageType::kResponse:
      return kMessageResponseSize;
    case MessageType::kCookieReply:
      return kMessageCookieReplySize;
    default:
      return 0;
  }
}
// The smallest data message is a keepalive: header plus the tag of nothing.
inline constexpr std::size_t kMessageDataMinSize = kMessageDataHeaderSize + kAuthTagLen;
static_assert(kMessageDataMinSize == 32);
// Where the macs start in the two message kinds that carry them.
inline constexpr std::size_t kMac1OffsetInitiation = offsetof(MessageInitiation, macs);
inline constexpr std::size_t kMac1OffsetResponse = offsetof(MessageResponse, macs);

// Protocol timers and limits (whitepaper 6.1, kernel messages.h).
inline constexpr std::uint64_t kRekeyAfterMessages = std::uint64_t{1} << 60;
// 2^64 - 2^13 - 1, computed without overflowing.
inline constexpr std::uint64_t kRejectAfterMessages =
    std::numeric_limits<std::uint64_t>::max() - (std::uint64_t{1} << 13);
inline constexpr std::chrono::seconds kRekeyAfterTime{120};
inline constexpr std::chrono::seconds kRejectAfterTime{180};
inline constexpr std::chrono::seconds kRekeyAttemptTime{90};
inline constexpr std::chrono::seconds kRekeyTimeout{5};
inline constexpr std::chrono::seconds kKeepaliveTimeout{10};
inline constexpr std::chrono::seconds kCookieSecretMaxAge{120};
// A cookie is used a little less long than the responder keeps its secret,
// so it does not expire while in flight (kernel COOKIE_SECRET_LATENCY).
inline constexpr std::chrono::seconds kCookieSecretLatency{5};
// At most this many initiations per second are consumed from one peer
// (kernel INITIATIONS_PER_SECOND).
inline constexpr std::uint32_t kInitiationsPerSecond = 50;
inline constexpr std::size_t kMessagePaddingMultiple = 16;

// Length of a plaintext inner packet after padding (whitepaper 5.4.6): round
// up to a multiple of 16, but never beyond the tunnel MTU. mtu == 0 means "no
// MTU known" and pads to 16 only. A packet already larger than the MTU is
// padded as the kernel does (it pads the remainder modulo the MTU), which
// keeps the result >= plain_len.
constexpr std::size_t padded_length(std::size_t plain_len, std::size_t mtu) {
  auto align = [](std::size_t n) {
    return (n + kMessagePaddingMultiple - 1) / kMessagePaddingMultiple * kMessagePaddingMultiple;
  };
  if (mtu == 0) return align(plain_len);
  std::size_t last_unit = plain_len;
  if (last_unit > mtu) last_unit %= mtu;
  std::size_t padded = align(last_unit);
  if (padded > mtu) padded = mtu;
  return plain_len + (padded - last_unit);
}

}  // namespace wghub::dp
