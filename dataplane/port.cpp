// Port setup from devargs: probe, pool, queues, start. See port.hpp.
#include "dataplane/port.hpp"

#include <net/if.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>

namespace wghub::dp {
namespace {

constexpr std::string_view kAfPacket = "net_af_packet";

std::mutex g_ports_mutex;
std::set<std::uint16_t> g_open_ports;  // open_port refuses to open one twice

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// A hint for the most common reasons a probe fails.
std::string probe_hint(std::string_view devargs, int rc) {
  const std::string_view name = devargs_device_name(devargs);
  if (starts_with(name, kAfPacket) || starts_with(name, "net_tap")) {
    const std::optional<std::string> iface = devarg_value(devargs, "iface");
    if (!iface) {
      if (starts_with(name, kAfPacket)) return "net_af_packet needs iface=<interface>";
    } else if (starts_with(name, kAfPacket) && if_nametoindex(iface->c_str()) == 0) {
      return "interface '" + *iface + "' does not exist in this network namespace";
    }
  }
  if (starts_with(name, "net_")) {
    std::string driver(name);
    while (!driver.empty() && driver.back() >= '0' && driver.back() <= '9') driver.pop_back();
    return "no driver took it: is '" + driver + "' a DPDK net driver whose plugin is loaded " +
           "(/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0, EAL -d), and are its arguments right? " +
           "rc " + std::to_string(rc);
  }
  if (name.find(':') != std::string_view::npos) {
    return std::string(strerror(-rc)) +
           "; is the PCI device present and bound to vfio-pci (dpdk-devbind.py)?";
  }
  return strerror(-rc);
}

// The ethdev port of a probed device: by name, else by the devargs iterator
// (PCI addresses in short form, devices with several ports: the first).
std::optional<std::uint16_t> find_port(std::string_view devargs) {
  const std::string name(devargs_device_name(devargs));
  std::uint16_t id;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &id) == 0) return id;
  rte_dev_iterator it;
  const std::string args(devargs);
  RTE_ETH_FOREACH_MATCHING_DEV(id, args.c_str(), &it) {
    rte_eth_iterator_cleanup(&it);
    return id;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> devarg_value(std::string_view devargs, std::string_view key) {
  std::size_t pos = devargs.find(',');
  while (pos != std::string_view::npos) {
    const std::size_t start = pos + 1;
    const std::size_t end = devargs.find(',', start);
    const std::string_view kv = devargs.substr(start, end - start);
    if (starts_with(kv, key) && kv.size() > key.size() && kv[key.size()] == '=')
      return std::string(kv.substr(key.size() + 1));
    pos = end;
  }
  return std::nullopt;
}

std::string_view devargs_device_name(std::string_view devargs) {
  return devargs.substr(0, devargs.find(','));
}

std::string devargs_with_queue_count(std::string_view devargs, std::uint16_t queues) {
  std::string out(devargs);
  if (queues > 1 && starts_with(devargs_device_name(devargs), kAfPacket) &&
      !devarg_value(devargs, "qpairs"))
    out += ",qpairs=" + std::to_string(queues);
  return out;
}

rte_mempool* create_packet_pool(const char* name, unsigned n_mbufs, int socket) {
  // 2048 bytes of data room holds a 1500-byte frame plus the outer headers
  // WireGuard adds; the headroom takes the prepended Ethernet/IPv4/UDP.
  return rte_pktmbuf_pool_create(name, n_mbufs, 256, 0, 2048 + RTE_PKTMBUF_HEADROOM, socket);
}

std::optional<Port> open_port(const PortOptions& o, std::string& error) {
  const std::string what = "ports." + o.role + ".devargs '" + o.devargs + "': ";
  if (o.devargs.empty()) {
    error = "ports." + o.role + ".devargs: empty (a PCI address or a vdev such as " +
            "net_af_packet0,iface=eth1)";
    return std::nullopt;
  }
  if (o.rx_queues == 0 || o.tx_queues == 0) {
    error = what + "needs at least one rx and one tx queue";
    return std::nullopt;
  }
  Port port;
  port.role = o.role;
  port.devargs = devargs_with_queue_count(o.devargs, std::max(o.rx_queues, o.tx_queues));

  // A device EAL already created (--vdev, a PCI device it probed) is used as
  // it is; one we probe here is ours to detach on close.
  std::uint16_t existing;
  const std::string device(devargs_device_name(port.devargs));
  if (rte_eth_dev_get_port_by_name(device.c_str(), &existing) != 0) {
    const int rc = rte_dev_probe(port.devargs.c_str());
    if (rc != 0) {
      error = what + "cannot probe (" + probe_hint(port.devargs, rc) + ")";
      return std::nullopt;
    }
    port.detach_on_close = starts_with(device, "net_");
  }
  const std::optional<std::uint16_t> id = find_port(port.devargs);
  if (!id) {
    error = what + "probed, but no Ethernet port belongs to it";
    return std::nullopt;
  }
  port.id = *id;
  {
    std::lock_guard lock(g_ports_mutex);
    if (!g_open_ports.insert(port.id).second) {
      error = what + "port " + std::to_string(port.id) + " is already open";
      return std::nullopt;
    }
  }
  // From here on, failures close what was opened.
  auto fail = [&](std::string message) {
    error = what + std::move(message);
    close_port(port);
    return std::nullopt;
  };

  char name[RTE_ETH_NAME_MAX_LEN] = {};
  rte_eth_dev_get_name_by_port(port.id, name);
  port.name = name;
  rte_eth_dev_info info;
  if (int r = rte_eth_dev_info_get(port.id, &info); r != 0)
    return fail(std::string("cannot read device info (") + strerror(-r) + ")");
  port.socket = std::max(0, rte_eth_dev_socket_id(port.id));

  port.rx_queues = o.rx_queues;
  port.tx_queues = o.tx_queues;
  if (starts_with(port.name, kAfPacket)) {
    // Every qpair socket is in the fanout group: all of them must be polled.
    port.rx_queues = std::max<std::uint16_t>(o.rx_queues, info.max_rx_queues);
  }
  if (info.max_rx_queues < port.rx_queues || info.max_tx_queues < port.tx_queues) {
    std::string m = "the device has " + std::to_string(info.max_rx_queues) + " rx and " +
                    std::to_string(info.max_tx_queues) + " tx queues, " +
                    std::to_string(port.rx_queues) + " rx and " + std::to_string(port.tx_queues) +
                    " tx are needed (one rx per worker, one tx per worker + 1 for control)";
    if (starts_with(port.name, kAfPacket)) m += "; set qpairs= in the devargs";
    return fail(m);
  }

  rte_eth_conf conf{};
  if (port.rx_queues > 1 && info.flow_type_rss_offloads != 0) {
    // Spread peers over workers by outer addresses and ports.
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
  }
  if (int r = rte_eth_dev_configure(port.id, port.rx_queues, port.tx_queues, &conf); r != 0)
    return fail(std::string("cannot configure queues (") + strerror(-r) + ")");
  std::uint16_t rx_desc = o.rx_desc, tx_desc = o.tx_desc;
  if (int r = rte_eth_dev_adjust_nb_rx_tx_desc(port.id, &rx_desc, &tx_desc); r != 0)
    return fail(std::string("cannot size descriptor rings (") + strerror(-r) + ")");

  port.pool = o.pool;
  if (port.pool == nullptr) {
    // Enough for every rx ring full, every tx ring full, and bursts in flight.
    const unsigned need = port.rx_queues * rx_desc + port.tx_queues * tx_desc + 8192;
    const unsigned n = static_cast<unsigned>(rte_align32pow2(need) - 1);
    const std::string pool_name = "pool_p" + std::to_string(port.id);
    port.pool = create_packet_pool(pool_name.c_str(), n, port.socket);
    if (port.pool == nullptr)
      return fail("cannot create an mbuf pool of " + std::to_string(n) + " mbufs (" +
                  rte_strerror(rte_errno) + "; give EAL more memory)");
    port.owns_pool = true;
  }
  for (std::uint16_t q = 0; q < port.rx_queues; ++q) {
    if (int r = rte_eth_rx_queue_setup(port.id, q, rx_desc, port.socket, nullptr, port.pool);
        r != 0)
      return fail("rx queue " + std::to_string(q) + ": " + strerror(-r));
  }
  for (std::uint16_t q = 0; q < port.tx_queues; ++q) {
    if (int r = rte_eth_tx_queue_setup(port.id, q, tx_desc, port.socket, nullptr); r != 0)
      return fail("tx queue " + std::to_string(q) + ": " + strerror(-r));
  }
  if (int r = rte_eth_dev_start(port.id); r != 0)
    return fail(std::string("cannot start (") + strerror(-r) + ")");
  port.started = true;
  // The appliance owns addresses on this port and the port may be shared
  // with other MACs (a veth, a bridge): see every frame, filter ourselves.
  // Drivers without the mode (-ENOTSUP) are fine as they are.
  (void)rte_eth_promiscuous_enable(port.id);
  if (int r = rte_eth_macaddr_get(port.id, &port.mac); r != 0)
    return fail(std::string("cannot read the MAC address (") + strerror(-r) + ")");
  if (rte_is_zero_ether_addr(&port.mac)) {
    // Software ports (net_ring, net_null) come without one; ARP needs one.
    rte_eth_random_addr(port.mac.addr_bytes);  // locally administered, unicast
    (void)rte_eth_dev_default_mac_addr_set(port.id, &port.mac);
  }
  if (rte_eth_dev_get_mtu(port.id, &port.mtu) != 0) port.mtu = RTE_ETHER_MTU;
  return port;
}

void close_port(Port& port) {
  rte_eth_dev_info info{};
  const bool have_info = rte_eth_dev_info_get(port.id, &info) == 0;
  if (port.started) (void)rte_eth_dev_stop(port.id);
  port.started = false;
  (void)rte_eth_dev_close(port.id);
  if (port.detach_on_close && have_info && info.device != nullptr)
    (void)rte_dev_remove(info.device);
  if (port.owns_pool) rte_mempool_free(port.pool);
  port.pool = nullptr;
  port.owns_pool = false;
  std::lock_guard lock(g_ports_mutex);
  g_open_ports.erase(port.id);
}

}  // namespace wghub::dp
