// See socket_drops.hpp.
#include "dataplane/socket_drops.hpp"

#include <dirent.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "dataplane/port.hpp"

namespace wghub::dp {

SocketDrops SocketDrops::for_devargs(std::string_view devargs) {
  SocketDrops d;
  if (devargs_device_name(devargs).rfind("net_af_packet", 0) != 0) return d;
  const std::optional<std::string> iface = devarg_value(devargs, "iface");
  const unsigned ifindex = iface ? if_nametoindex(iface->c_str()) : 0;
  if (ifindex == 0) return d;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return d;
  while (const dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dirfd(dir)) continue;
    int domain = 0;
    socklen_t len = sizeof domain;
    if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
        domain != AF_PACKET)
      continue;
    sockaddr_ll ll{};
    len = sizeof ll;
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&ll), &len) != 0 ||
        ll.sll_ifindex != static_cast<int>(ifindex))
      continue;
    d.fds_.push_back(static_cast<int>(fd));
  }
  closedir(dir);
  d.sample();  // what the kernel dropped before the port was ours to poll counts too
  return d;
}

std::uint64_t SocketDrops::sample() {
  for (int fd : fds_) {
    tpacket_stats st{};  // the first two fields of every TPACKET version's statistics
    socklen_t len = sizeof st;
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) total_ += st.tp_drops;
  }
  return total_;
}

}  // namespace wghub::dp
