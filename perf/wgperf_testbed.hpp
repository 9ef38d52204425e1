// Internal to wgperf's bench (wgperf_testbed.cpp, wgperf_streams.cpp,
// wgperf_measure.cpp, wgperf_handshake.cpp, wgperf_raw_aead.cpp): the test
// bed's addresses (see wgperf_bench.hpp), the sites' addressing, the packet
// sizes of a point, and the store of frames a stream is built into.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/context.hpp"
#include "dataplane/messages.hpp"
#include "perf/sim/frames.hpp"
#include "perf/wgperf_bench.hpp"

namespace wghub::perf {

inline constexpr unsigned kWan = perfsim::RingBed::kWan;
inline constexpr unsigned kLan = perfsim::RingBed::kLan;

// The bed's addresses (perf/sim/ring_bed.hpp).
using perfsim::kHqHostIp;
using perfsim::kHqHostMac;
using perfsim::kHubLanIp;
using perfsim::kHubWanIp;
using perfsim::kListenPort;
using perfsim::kWanGatewayIp;
using perfsim::kWanGatewayMac;
inline constexpr std::uint32_t kLanHost2Ip = perfsim::ip4(10, 0, 0, 20);
inline constexpr perfsim::Mac kLanHost2Mac = perfsim::test_mac(0x0a14);
inline constexpr std::uint32_t kSiteOuterBase = perfsim::ip4(198, 18, 0, 0);

inline std::uint32_t site_outer_ip(unsigned i) {
  return kSiteOuterBase + i + 1;
}
inline std::uint16_t site_outer_port(unsigned i) {
  return static_cast<std::uint16_t>(40000 + i % 20000);
}
// The site's network: 10.(1 + i/256).(i%256).0/24; its host .1 talks.
inline std::uint32_t site_net(unsigned i) {
  return perfsim::ip4(10, static_cast<std::uint8_t>(1 + i / 256),
                      static_cast<std::uint8_t>(i % 256), 0);
}

// The hub's WAN side as the sites send to it: its MAC, address and listen port.
inline perfsim::HubWan hub_wan_of(ctl::Hub& hub) {
  perfsim::Mac mac;
  std::memcpy(mac.data(), hub.dataplane().wan.local.mac.addr_bytes, 6);
  return perfsim::HubWan{mac, kHubWanIp, kListenPort};
}

inline unsigned size_of(unsigned size, std::size_t j) {
  return size == kImix ? kImixPattern[j % 12] : size;
}

inline std::size_t padded(unsigned inner) {
  return dp::padded_length(inner, std::max<std::size_t>(inner, dp::kTunnelMtu));
}

// A stream of frames for one point: the store and how to refresh it.
struct Testbed::Stream {
  Engine engine = Engine::kDecap;
  unsigned size = 0;
  unsigned port = kWan;  // where the frames enter
  bool encrypted = false;
  std::size_t stride = 0;
  std::size_t count = 0;
  std::size_t next = 0;
  std::uint64_t generation = 0;
  std::vector<std::uint8_t> store;
  std::vector<std::uint16_t> length;  // frame bytes per message
  unsigned peers = 0;

  std::uint8_t* frame(std::size_t j) { return store.data() + j * stride; }
  unsigned peer(std::size_t j) const { return static_cast<unsigned>(j % peers); }
};

}  // namespace wghub::perf
