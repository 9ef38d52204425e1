// Start-up and shutdown of the hub; see hub.hpp. Everything that can fail
// for a reason the operator can fix (lcores, devargs, memory) fails here,
// before any worker runs, with a message that names the config field.
#include "control/hub.hpp"

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include <csignal>
#include <sstream>

#include "control/control_thread.hpp"
#include "control/control_tx.hpp"
#include "control/device.hpp"
#include "control/handshake_engine.hpp"
#include "control/log.hpp"
#include "crypto/aead.hpp"
#include "crypto/base64.hpp"
#include "crypto/secret.hpp"
#include "dataplane/eal.hpp"
#include "dataplane/worker.hpp"

namespace wghub::ctl {

namespace {

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_dump = 0;

void on_stop_signal(int) {
  g_stop = 1;
}
void on_dump_signal(int) {
  g_dump = 1;
}

std::uint32_t ipv4_be(const config::IpAddress& a) {
  std::uint32_t v;
  std::memcpy(&v, a.bytes.data(), 4);
  return v;
}

std::uint32_t mask_be(unsigned length) {
  return rte_cpu_to_be_32(length == 0 ? 0 : ~std::uint32_t{0} << (32 - length));
}

bool is_vdev(const std::string& devargs) {
  return devargs.rfind("net_", 0) == 0;
}

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

bool setup_port(dp::PortContext& ctx, const config::Port& cfg, const std::string& role,
                unsigned workers, rte_mempool* pool, unsigned stats_index, std::string& error) {
  if (cfg.address.address.family != config::Family::v4) {
    error = "ports." + role + ".address: the port address must be IPv4 for now";
    return false;
  }
  dp::PortOptions o;
  o.devargs = cfg.devargs;
  o.role = role;
  o.rx_queues = static_cast<std::uint16_t>(workers);
  o.tx_queues = static_cast<std::uint16_t>(workers + 1);  // + the control thread's
  o.pool = pool;
  auto port = dp::open_port(o, error);
  if (!port) return false;
  ctx.port = *port;
  ctx.local.mac = port->mac;
  ctx.local.ip_be = ipv4_be(cfg.address.address);
  ctx.mask_be = mask_be(cfg.address.length);
  if (cfg.gateway && cfg.gateway->family == config::Family::v4)
    ctx.gateway_be = ipv4_be(*cfg.gateway);
  ctx.neighbours =
      std::make_unique<dp::NeighbourTable>(dp::NeighbourTiming::from_hz(rte_get_tsc_hz()));
  ctx.control_txq = static_cast<std::uint16_t>(workers);
  ctx.stats_index = stats_index;
  log_info("port %s: %s (%s) mac %s address %s, %u rx / %u tx queues", role.c_str(),
           port->name.c_str(), port->devargs.c_str(), dp::format_mac(port->mac).c_str(),
           cfg.address.to_string().c_str(), port->rx_queues, port->tx_queues);
  return true;
}

}  // namespace

int run_hub(std::shared_ptr<const config::DesiredState> state, const HubOptions& options) {
  const config::DesiredState& s = *state;
  const unsigned workers = static_cast<unsigned>(s.dataplane.lcores.size());
  crypto::harden_process_memory();

  dp::EalOptions eal;
  eal.worker_lcores = s.dataplane.lcores;
  eal.no_pci = is_vdev(s.ports.wan.devargs) && is_vdev(s.ports.lan.devargs);
  eal.extra = split_words(options.extra_eal_args);
  if (options.extra_eal_args.find("log-level") == std::string::npos)
    eal.extra.push_back("--log-level=lib.eal:error");
  std::string error;
  if (!dp::eal_start(eal, error)) {
    log_error("cannot start DPDK: %s", error.c_str());
    return 1;
  }
  if (!dp::register_control_meta()) {
    log_error("cannot register the mbuf field for control metadata");
    return 1;
  }

  auto dp = std::make_unique<dp::Dataplane>();
  dp->burst = s.dataplane.burst_size;
  dp->busy_poll = options.busy_poll;
  dp->reject_after_cycles =
      static_cast<std::uint64_t>(dp::kRejectAfterTime.count()) * rte_get_tsc_hz();
  // Rx descriptors of both ports, the rings, tx in flight and per-lcore caches.
  dp->pool = dp::create_packet_pool("wghub_pkts", 16383, static_cast<int>(rte_socket_id()));
  if (dp->pool == nullptr) {
    log_error("cannot create the packet pool (%s); try fewer lcores or more memory",
              rte_strerror(rte_errno));
    return 1;
  }
  if (!setup_port(dp->wan, s.ports.wan, "wan", workers, dp->pool, dp::kStatsPortWan, error) ||
      !setup_port(dp->lan, s.ports.lan, "lan", workers, dp->pool, dp::kStatsPortLan, error)) {
    log_error("%s", error.c_str());
    return 1;
  }
  dp->wan.local.udp_port_be = rte_cpu_to_be_16(s.interface.listen_port);

  dp->rcu = std::make_unique<dp::Rcu>();
  if (!dp->rcu->init(workers)) {
    log_error("cannot set up RCU for %u workers", workers);
    return 1;
  }
  dp->fib = dp::Fib::create(dp::FibConfig{}, dp->rcu.get(), error);
  if (!dp->fib) {
    log_error("cannot create the FIB: %s", error.c_str());
    return 1;
  }
  dp->lan_gateways = std::make_unique<dp::LanGateways>();
  dp->keypairs = std::make_unique<dp::KeypairTable>();
  dp->peers = std::make_unique<dp::PeerTable>();
  dp->to_control =
      rte_ring_create("wghub_control", 4096, static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);
  if (dp->to_control == nullptr) {
    log_error("cannot create the control ring (%s)", rte_strerror(rte_errno));
    return 1;
  }
  for (unsigned i = 0; i < workers; ++i) {
    dp->worker_stats.push_back(std::make_unique<dp::LcoreStats>());
    dp->worker_peer_counters.push_back(
        std::make_unique<dp::PeerCounterBlock>(dp->peers->capacity()));
  }

  ControlTx tx(*dp);
  Device device(*dp, tx);
  if (!device.apply(s, error)) {
    log_error("%s", error.c_str());
    return 1;
  }
  auto local = LocalIdentity::from_private_key(s.interface.private_key->span());
  log_info("interface %s: public key %s, listening on %s:%u, %zu peer(s)", s.interface.name.c_str(),
           crypto::key_to_base64(local.public_key.data()).c_str(),
           dp::format_ipv4(dp->wan.local.ip_be).c_str(), s.interface.listen_port,
           device.peers().size());
  HandshakeEngine engine(std::move(local), device);
  device.register_peers(engine);

  // One worker per lcore; rx queues dealt round-robin (net_af_packet may
  // create more than asked for, and every one must be polled).
  std::vector<std::unique_ptr<dp::Worker>> worker_objs;
  for (unsigned i = 0; i < workers; ++i) {
    dp::WorkerConfig wc;
    wc.index = i;
    for (std::uint16_t q = 0; q < dp->wan.port.rx_queues; ++q)
      if (q % workers == i) wc.wan_rx_queues.push_back(q);
    for (std::uint16_t q = 0; q < dp->lan.port.rx_queues; ++q)
      if (q % workers == i) wc.lan_rx_queues.push_back(q);
    wc.wan_tx_queue = static_cast<std::uint16_t>(i);
    wc.lan_tx_queue = static_cast<std::uint16_t>(i);
    auto aead = crypto::make_best_backend();
    dp->rcu->register_thread(i);
    worker_objs.push_back(std::make_unique<dp::Worker>(*dp, wc, std::move(aead)));
  }
  for (unsigned i = 0; i < workers; ++i) {
    const unsigned lcore = s.dataplane.lcores[i];
    if (rte_eal_remote_launch(dp::worker_lcore_main, worker_objs[i].get(), lcore) != 0) {
      log_error("cannot launch a worker on lcore %u", lcore);
      dp->stop = true;
      rte_eal_mp_wait_lcore();
      return 1;
    }
    log_info("worker %u on lcore %u: %zu wan + %zu lan rx queues, crypto %s", i, lcore,
             worker_objs[i]->config().wan_rx_queues.size(),
             worker_objs[i]->config().lan_rx_queues.size(),
             std::string(worker_objs[i]->aead_name()).c_str());
  }

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGUSR1, on_dump_signal);
  log_info("wghub running (SIGUSR1 prints a status dump, SIGINT/SIGTERM stop)");
  ControlThread control(*dp, device, engine, tx, options.status_interval_s);
  control.run(g_stop, g_dump);

  log_info("stopping");
  dp->stop = true;
  rte_eal_mp_wait_lcore();
  control.print_status(true);
  worker_objs.clear();
  void* left;
  while (rte_ring_dequeue(dp->to_control, &left) == 0)
    rte_pktmbuf_free(static_cast<rte_mbuf*>(left));
  dp::close_port(dp->wan.port);
  dp::close_port(dp->lan.port);
  log_info("stopped");
  return 0;
}

}  // namespace wghub::ctl
