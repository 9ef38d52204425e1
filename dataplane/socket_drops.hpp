// Frames the kernel drops before a software port's driver reads them. A
// net_af_packet port receives through AF_PACKET sockets with an rx ring each;
// when a ring is full the kernel drops the frame and counts it in the
// socket's PACKET_STATISTICS (tp_drops), which DPDK 22.11's driver never
// reads: no imissed, no counter anywhere moves, and a lab or a software
// deployment loses packets silently. SocketDrops finds the port's sockets
// among the process's own descriptors (AF_PACKET, bound to the port's
// interface) once the port is started, and adds up their drops.
//
// Control thread only: reading PACKET_STATISTICS resets the kernel's
// counter, so the total lives here. Other drivers have no sockets: 0.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace wghub::dp {

class SocketDrops {
 public:
  SocketDrops() = default;
  // The net_af_packet sockets bound to `devargs`' iface=, none for other
  // drivers (or when the interface is gone).
  static SocketDrops for_devargs(std::string_view devargs);

  std::size_t sockets() const { return fds_.size(); }
  // Reads the kernel's counters and returns the total so far.
  std::uint64_t sample();
  std::uint64_t total() const { return total_; }

 private:
  std::vector<int> fds_;
  std::uint64_t total_ = 0;
};

}  // namespace wghub::dp
