// See socket_drops.hpp.
#include "dataplane/socket_drops.hpp"

#include <dirent.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstdlib>

#include "dataplane/port.hpp"

namespace wghub::dp {

std::string af_packet_iface(std::string_view devargs) {
  if (devargs_device_name(devargs).rfind("net_af_packet", 0) != 0) return {};
  for (std::size_t at = 0; at < devargs.size();) {
    const std::size_t comma = devargs.find(',', at);
    const std::string_view arg =
        devargs.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    if (arg.rfind("iface=", 0) == 0) return std::string(arg.substr(6));
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return {};
}

SocketDrops SocketDrops::for_devargs(std::string_view devargs) {
  SocketDrops d;
  const std::string iface = af_packet_iface(devargs);
  const unsigned ifindex = iface.empty() ? 0 : if_nametoindex(iface.c_str());
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
