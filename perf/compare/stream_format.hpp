// The payload of the side-by-side lab benchmark's stream (scripts/compare-lab):
// what wghub-streamgen puts in each inner UDP datagram and wghub-streamsink
// checks on the HQ host. Big endian on the wire.
//
//   0  magic     "WGST"
//   4  stream    32-bit id of this run (given to both programs)
//   8  sequence  64-bit, 0..count-1, in sending order
//  16  filler    bytes derived from the sequence
//
// The smallest inner packet (64 B: IPv4 20 + UDP 8 + 36) holds the header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wghub::perf {

inline constexpr std::uint8_t kStreamMagic[4] = {'W', 'G', 'S', 'T'};
inline constexpr std::size_t kStreamHeaderLen = 16;
inline constexpr std::size_t kInnerHeadersLen = 20 + 8;  // IPv4 (no options) + UDP
inline constexpr std::size_t kMinInnerSize = 64;
inline constexpr std::size_t kMaxInnerSize = 1420;  // wireguard-go's default MTU

inline void put_be32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
inline void put_be64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
inline std::uint32_t get_be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
inline std::uint64_t get_be64(const std::uint8_t* p) {
  return std::uint64_t{get_be32(p)} << 32 | get_be32(p + 4);
}

}  // namespace wghub::perf
