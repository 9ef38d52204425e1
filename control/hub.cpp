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

#include <malloc.h>
#include <unistd.h>

#include <algorithm>

#include <chrono>
#include <csignal>
#include <sstream>
#include <thread>

#include "config/loader.hpp"
#include "control/audit.hpp"
#include "control/cpu_affinity.hpp"
#include "control/election.hpp"
#include "control/line_writer.hpp"
#include "control/log.hpp"
#include "control/metrics.hpp"
#include "control/store_sync.hpp"
#include "control/table_sizes.hpp"
#include "control/uapi_backend.hpp"
#include "control/uapi_server.hpp"
#include "crypto/aead.hpp"
#include "crypto/base64.hpp"
#include "crypto/secret.hpp"
#include "dataplane/eal.hpp"

namespace wghub::ctl {

namespace {

// The default node name of an election: this machine's host name.
std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "wghub";
  return name;
}

ControlSignals g_signals;

void on_stop_signal(int) {
  g_signals.stop = 1;
}
void on_dump_signal(int) {
  g_signals.dump = 1;
}
void on_reload_signal(int) {
  g_signals.reload = 1;
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
  ctx.socket_drops = dp::SocketDrops::for_devargs(ctx.port.devargs);
  ctx.local.mac = port->mac;
  ctx.local.ip_be = ipv4_be(cfg.address.address);
  ctx.mask_be = mask_be(cfg.address.length);
  if (cfg.gateway && cfg.gateway->family == config::Family::v4)
    ctx.gateway_be = ipv4_be(*cfg.gateway);
  if (cfg.address6) {
    ctx.local.has_ip6 = true;
    std::memcpy(ctx.local.ip6.data(), cfg.address6->address.bytes.data(), 16);
    ctx.prefix6 = cfg.address6->length;
  }
  if (cfg.gateway6) {
    ctx.has_gateway6 = true;
    std::memcpy(ctx.gateway6.data(), cfg.gateway6->bytes.data(), 16);
  }
  ctx.neighbours =
      std::make_unique<dp::NeighbourTable>(dp::NeighbourTiming::from_hz(rte_get_tsc_hz()));
  ctx.neighbours6 =
      std::make_unique<dp::Neighbour6Table>(dp::NeighbourTiming::from_hz(rte_get_tsc_hz()));
  ctx.control_txq = static_cast<std::uint16_t>(workers);
  ctx.stats_index = stats_index;
  log_info("port %s: %s (%s) mac %s address %s%s%s, %u rx / %u tx queues", role.c_str(),
           port->name.c_str(), port->devargs.c_str(), dp::format_mac(port->mac).c_str(),
           cfg.address.to_string().c_str(), cfg.address6 ? " " : "",
           cfg.address6 ? cfg.address6->to_string().c_str() : "", port->rx_queues, port->tx_queues);
  return true;
}

}  // namespace

std::unique_ptr<Hub> Hub::create(std::shared_ptr<const config::DesiredState> state,
                                 const HubOptions& options, std::string& error) {
  const config::DesiredState& s = *state;
  const unsigned workers = static_cast<unsigned>(s.dataplane.lcores.size());
  if (!dp::register_control_meta()) {
    error = "cannot register the mbuf field for control metadata";
    return nullptr;
  }
  std::unique_ptr<Hub> hub(new Hub());
  hub->state_ = state;
  hub->dp_ = std::make_unique<dp::Dataplane>();
  dp::Dataplane& d = *hub->dp_;
  d.burst = s.dataplane.burst_size;
  d.busy_poll = options.busy_poll;
  d.icmp_error_limit = options.icmp_error_limit;
  d.reject_after_cycles =
      static_cast<std::uint64_t>(dp::kRejectAfterTime.count()) * rte_get_tsc_hz();
  // Rx descriptors of both ports, the rings, tx in flight and per-lcore caches.
  d.pool = dp::create_packet_pool("wghub_pkts", 16383, static_cast<int>(rte_socket_id()));
  if (d.pool == nullptr) {
    error = std::string("cannot create the packet pool (") + rte_strerror(rte_errno) +
            "); try fewer lcores or more memory";
    return nullptr;
  }
  if (!setup_port(d.wan, s.ports.wan, "wan", workers, d.pool, dp::kStatsPortWan, error) ||
      !setup_port(d.lan, s.ports.lan, "lan", workers, d.pool, dp::kStatsPortLan, error))
    return nullptr;
  d.wan.local.udp_port_be = rte_cpu_to_be_16(s.interface.listen_port);

  d.rcu = std::make_unique<dp::Rcu>();
  if (!d.rcu->init(workers)) {
    error = "cannot set up RCU for " + std::to_string(workers) + " workers";
    return nullptr;
  }
  // Sized from the config (table_sizes.hpp): 2^20 peers fit, and a small
  // config does not pay for them.
  const TableSizes sizes = options.table_sizes ? *options.table_sizes : table_sizes(s);
  dp::FibConfig fib_config;
  fib_config.max_rules = sizes.fib_rules;
  fib_config.tbl8_groups = sizes.fib_tbl8;
  d.fib = dp::Fib::create(fib_config, d.rcu.get(), error);
  if (!d.fib) return nullptr;
  d.lan_gateways = std::make_unique<dp::LanGateways>();
  dp::Fib6Config fib6_config;
  fib6_config.max_rules = sizes.fib6_rules;
  fib6_config.tbl8_groups = sizes.fib6_tbl8;
  d.fib6 = dp::Fib6::create(fib6_config, d.rcu.get(), error);
  if (!d.fib6) return nullptr;
  d.lan_gateways6 = std::make_unique<dp::LanGateways6>();
  d.keypairs = std::make_unique<dp::KeypairTable>(sizes.keypair_log2);
  d.peers = std::make_unique<dp::PeerTable>(sizes.peers);
  log_info(
      "tables: %u peer slots, %u receiver indices, IPv4 FIB %u rules / %u groups, IPv6 FIB "
      "%u rules / %u groups",
      sizes.peers, 1u << sizes.keypair_log2, sizes.fib_rules, sizes.fib_tbl8, sizes.fib6_rules,
      sizes.fib6_tbl8);
  auto ring = [](const char* name, unsigned size, unsigned flags = RING_F_SC_DEQ) {
    return rte_ring_create(name, size, static_cast<int>(rte_socket_id()), flags);
  };
  // Read by the control thread or by the handshake threads.
  d.handshakes = ring("wghub_handshakes", 4096, 0);
  d.handshakes_proven = ring("wghub_proven", 1024, 0);
  d.local = ring("wghub_local", 2048);
  d.events = ring("wghub_events", 4096);
  d.staged = ring("wghub_staged", 2048);
  if (d.handshakes == nullptr || d.handshakes_proven == nullptr || d.local == nullptr ||
      d.events == nullptr || d.staged == nullptr) {
    error = std::string("cannot create the control rings (") + rte_strerror(rte_errno) + ")";
    return nullptr;
  }
  for (unsigned i = 0; i < workers; ++i) {
    d.worker_stats.push_back(std::make_unique<dp::LcoreStats>());
    d.worker_peer_counters.push_back(std::make_unique<dp::PeerCounterBlock>(d.peers->capacity()));
  }

  hub->tx_ = std::make_unique<ControlTx>(d);
  hub->device_ = std::make_unique<Device>(d, *hub->tx_);
  auto local = LocalIdentity::from_private_key(s.interface.private_key->span());
  const std::string public_key = crypto::key_to_base64(local.public_key.data());
  d.cookie_gate = std::make_unique<dp::CookieGate>(local.public_key, d.rcu.get(), rte_get_tsc_hz());
  hub->engine_ = std::make_unique<HandshakeEngine>(std::move(local), *hub->device_);
  hub->device_->attach(*hub->engine_);
  if (!hub->device_->apply(s, error)) return nullptr;
  const std::string listen6 = d.wan.local.has_ip6
                                  ? " and [" + dp::format_ipv6(d.wan.local.ip6.data()) +
                                        "]:" + std::to_string(s.interface.listen_port)
                                  : "";
  log_info("interface %s: public key %s, listening on %s:%u%s, %zu peer(s)",
           s.interface.name.c_str(), public_key.c_str(), dp::format_ipv4(d.wan.local.ip_be).c_str(),
           s.interface.listen_port, listen6.c_str(), hub->device_->peers().size());
  hub->control_ = std::make_unique<ControlThread>(d, *hub->device_, *hub->engine_, *hub->tx_,
                                                  options.status_interval_s);
  hub->reloader_ = std::make_unique<Reloader>(*hub->device_, hub->state_);
  // Helper threads off the control thread's CPU (cpu_affinity.hpp).
  const std::vector<unsigned> cpus =
      options.handshake_cpus.empty() ? spare_cpus(s.dataplane.lcores) : options.handshake_cpus;
  hub->reloader_->set_cpus(cpus);
  hub->control_->set_reloader(hub->reloader_.get());
  if (s.dataplane.handshake_threads > 0) {
    hub->handshake_threads_ =
        HandshakeThreads::start(d, *hub->engine_, s.dataplane.handshake_threads, cpus, error);
    if (!hub->handshake_threads_) return nullptr;
    hub->control_->set_handshake_threads(hub->handshake_threads_.get());
    log_info("handshake threads: %u, on %zu CPU(s) the workers leave",
             s.dataplane.handshake_threads, cpus.size());
  }

  // One worker per lcore; rx queues dealt round-robin (net_af_packet may
  // create more than asked for, and every one must be polled).
  for (unsigned i = 0; i < workers; ++i) {
    dp::WorkerConfig wc;
    wc.index = i;
    for (std::uint16_t q = 0; q < d.wan.port.rx_queues; ++q)
      if (q % workers == i) wc.wan_rx_queues.push_back(q);
    for (std::uint16_t q = 0; q < d.lan.port.rx_queues; ++q)
      if (q % workers == i) wc.lan_rx_queues.push_back(q);
    wc.wan_tx_queue = static_cast<std::uint16_t>(i);
    wc.lan_tx_queue = static_cast<std::uint16_t>(i);
    d.rcu->register_thread(i);
    d.rcu->online(i);
    hub->workers_.push_back(std::make_unique<dp::Worker>(d, wc, crypto::make_best_backend()));
  }
  return hub;
}

bool Hub::launch_workers(std::string& error) {
  for (unsigned i = 0; i < workers_.size(); ++i) {
    const unsigned lcore = state_->dataplane.lcores[i];
    if (rte_eal_remote_launch(dp::worker_lcore_main, workers_[i].get(), lcore) != 0) {
      error = "cannot launch a worker on lcore " + std::to_string(lcore);
      stop_workers();
      return false;
    }
    launched_ = true;
    log_info("worker %u on lcore %u: %zu wan + %zu lan rx queues, crypto %s", i, lcore,
             workers_[i]->config().wan_rx_queues.size(), workers_[i]->config().lan_rx_queues.size(),
             std::string(workers_[i]->aead_name()).c_str());
  }
  return true;
}

void Hub::stop_workers() {
  dp_->stop = true;
  if (launched_) rte_eal_mp_wait_lcore();
  launched_ = false;
}

bool Hub::reload() {
  reloader_->request();
  // Parse and diff run on the reloader's thread: wait for them here, as a
  // caller of this synchronous form expects; the control loop never does.
  while (reloader_->step())
    if (!reloader_->parsed()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  return reloader_->last().ok;
}

unsigned Hub::poll_workers_once() {
  unsigned n = 0;
  for (auto& w : workers_) n += w->poll_once();
  return n;
}

Hub::~Hub() {
  if (!dp_) return;
  stop_workers();
  // Workers stepped by hand, or never launched, are still online in RCU; a
  // grace period (device teardown) would wait for them for ever.
  for (unsigned i = 0; i < workers_.size(); ++i) dp_->rcu->offline(i);
  workers_.clear();
  if (control_) control_->set_reloader(nullptr);
  reloader_.reset();  // joins its thread
  if (control_) control_->set_handshake_threads(nullptr);
  handshake_threads_.reset();  // joins them; before the engine they use
  control_.reset();
  engine_.reset();
  device_.reset();  // retires keypairs; workers are gone
  tx_.reset();
  for (rte_ring* r : {dp_->handshakes, dp_->handshakes_proven, dp_->local, dp_->staged}) {
    if (r == nullptr) continue;
    void* left;
    while (rte_ring_dequeue(r, &left) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(left));
    rte_ring_free(r);
  }
  if (dp_->events != nullptr) rte_ring_free(dp_->events);
  dp_->cookie_gate.reset();
  if (dp_->wan.port.started) dp::close_port(dp_->wan.port);
  if (dp_->lan.port.started) dp::close_port(dp_->lan.port);
  dp_->fib.reset();
  dp_->fib6.reset();
  if (dp_->pool != nullptr) rte_mempool_free(dp_->pool);
}

int run_hub(std::shared_ptr<const config::DesiredState> state, const HubOptions& options) {
  const config::DesiredState& s = *state;
  // No malloc_trim(0) here: the YAML tree the parse freed (~5 KB a peer in
  // yaml-cpp) is what the device's own state then reuses. Measured at 10^5
  // peers, trimming before the lock cost ~0.5 s of the start (a madvise per
  // free run, each a TLB shootdown) and left the locked RSS the same
  // (1,167 MB with and without).
  const bool locked = crypto::harden_process_memory();
  if (!locked)
    log_warn("could not lock memory or disable core dumps; keys may reach swap or a core file");

  dp::EalOptions eal;
  eal.worker_lcores = s.dataplane.lcores;
  {
    // The IPv4 FIB (rte_fib) keeps ~0.4 KB a rule in EAL memory: past ~2.5 * 10^5
    // rules, --no-huge gets what it needs beyond the 128 MiB of the default 512
    // that the table had when it was rte_lpm (dataplane/fib.hpp).
    const TableSizes sizes = table_sizes(s);
    dp::FibConfig fib_config;
    fib_config.max_rules = sizes.fib_rules;
    fib_config.tbl8_groups = sizes.fib_tbl8;
    const std::size_t fib_mb = dp::Fib::memory_bytes(fib_config) >> 20;
    if (fib_mb > 128) eal.memory_mb += static_cast<unsigned>(fib_mb - 128);
  }
  eal.no_pci = is_vdev(s.ports.wan.devargs) && is_vdev(s.ports.lan.devargs);
  eal.extra = split_words(options.extra_eal_args);
  if (options.extra_eal_args.find("log-level") == std::string::npos)
    eal.extra.push_back("--log-level=lib.eal:error");
  std::string error;
  const auto before_eal = std::chrono::steady_clock::now();
  if (!dp::eal_start(eal, error)) {
    log_error("cannot start DPDK: %s", error.c_str());
    return 1;
  }
  if (locked) {
    // Packets carry plaintext, and a worker must not fault: lock the pool's
    // memory whole now (the process lock only takes pages as they are touched).
    std::size_t eal_bytes = 0;
    if (!dp::eal_lock_memory(eal_bytes, error)) log_warn("%s", error.c_str());
  }
  const auto before_hub = std::chrono::steady_clock::now();
  if (!options.audit_log.empty() && !audit_open_file(options.audit_log, error)) {
    log_error("%s", error.c_str());
    return 1;
  }
  auto hub = Hub::create(state, options, error);
  // With an election the hub starts as a standby: nothing on the WAN until
  // it holds the lease (docs/ha.md).
  if (hub && s.store.enabled() && s.store.election)
    hub->dataplane().answering.store(false, std::memory_order_release);
  if (!hub || !hub->launch_workers(error)) {
    log_error("%s", error.c_str());
    AuditEvent("config_refused")
        .add("file", s.source_file)
        .add("source", "startup")
        .add("errors", std::vector<std::string>{error})
        .emit();
    return 1;
  }
  const auto ready = std::chrono::steady_clock::now();
  {
    // What the peers cost: the heap in use (RSS is larger: the hub locks its
    // memory, so the config parse's high-water mark stays resident).
    const struct mallinfo2 mi = mallinfo2();
    log_info("memory: %.1f MiB of heap in use for %zu peer(s)",
             static_cast<double>(mi.uordblks + mi.hblkhd) / (1 << 20),
             hub->device().peers().size());
  }
  AuditEvent("config_applied")
      .add("file", s.source_file)
      .add("source", "startup")
      .add("peers", std::uint64_t{hub->device().peers().size()})
      .emit();
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGUSR1, on_dump_signal);
  std::signal(SIGHUP, on_reload_signal);
  log_info("wghub running (SIGHUP reloads %s, SIGUSR1 prints a status dump, SIGINT/SIGTERM stop)",
           s.source_file.c_str());
  {
    const auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
    log_info(
        "started in %.2f s: config %.2f s, memory lock %.2f s, DPDK %.2f s, ports, tables and "
        "%zu peer(s) %.2f s",
        secs(options.started, ready), options.config_seconds,
        secs(options.started, before_eal) - options.config_seconds, secs(before_eal, before_hub),
        hub->device().peers().size(), secs(before_hub, ready));
  }
  // wg(8) talks to the hub through /var/run/wireguard/<interface>.sock.
  DeviceUapiBackend uapi_backend(hub->device(), s.interface.private_key, s.interface.listen_port,
                                 hub->public_key(), [&hub](const PublicKey& key) {
                                   const config::Peer* p = hub->state().find_peer(key);
                                   return p != nullptr ? p->name : std::string();
                                 });
  uapi::Server::Options uapi_options;
  uapi_options.interface_name = s.interface.name;
  auto uapi_server = uapi::Server::start(uapi_options, uapi_backend, error);
  if (uapi_server == nullptr) {
    log_error("%s", error.c_str());
    hub->stop_workers();
    return 1;
  }
  hub->control().set_uapi(uapi_server.get());
  // Peers from etcd (docs/ha.md): watched on a thread, applied by the reloader.
  std::unique_ptr<StoreSync> store_sync;
  if (s.store.enabled()) {
    auto client = EtcdClient::from_config(s.store, error);
    if (!client) {
      log_error("%s", error.c_str());
      hub->stop_workers();
      return 1;
    }
    hub->reloader().set_store(options.store_snapshot);
    store_sync = std::make_unique<StoreSync>(std::move(client), s.store.prefix);
    hub->control().set_store_sync(store_sync.get());
    store_sync->start();
  }
  // Who is active among hubs sharing the WAN address (docs/ha.md).
  std::unique_ptr<Election> election;
  if (s.store.enabled() && s.store.election) {
    auto client = EtcdClient::from_config(s.store, error);
    if (!client) {
      log_error("%s", error.c_str());
      hub->stop_workers();
      return 1;
    }
    ElectionOptions eo;
    eo.key = s.store.leader_key;
    eo.node = s.store.node_name.empty() ? host_name() : s.store.node_name;
    eo.ttl = std::chrono::seconds(s.store.lease_ttl);
    if (s.store.failsafe_listen) {
      FailsafeOptions fo;
      fo.listen = *s.store.failsafe_listen;
      fo.peers = s.store.failsafe_peers;
      fo.node = eo.node;
      fo.ttl = std::chrono::duration_cast<std::chrono::milliseconds>(eo.ttl);
      // The pair shares the private key (the sites know one public key).
      fo.key = FailsafeMessage::derive_key(
          {s.interface.private_key->data(), s.interface.private_key->size()});
      eo.failsafe = Failsafe::open(std::move(fo), error);
      if (!eo.failsafe) {
        log_error("%s", error.c_str());
        hub->stop_workers();
        return 1;
      }
      log_info("election: failsafe mode: promise requests on %s, %zu other hub(s) to ask",
               s.store.failsafe_listen->to_string().c_str(), s.store.failsafe_peers.size());
    }
    election = std::make_unique<Election>(std::move(client), eo);
    hub->control().set_election(election.get());
    uapi_backend.set_refusal([&election]() -> std::string {
      if (election->answering()) return {};
      const std::string leader = election->status().leader;
      return "this hub (" + election->node() + ") is a standby" +
             (leader.empty() ? std::string() : "; the active hub is " + leader) +
             ": change peers in etcd (wghub store push) or on the active hub";
    });
    log_info("election: %s as %s, lease TTL %u s; standby until elected", eo.key.c_str(),
             eo.node.c_str(), s.store.lease_ttl);
    election->start();
  }
  log_info("wg(8) interface %s: wg show %s", s.interface.name.c_str(), s.interface.name.c_str());
  // The exporter reads the workers' counter blocks: it goes before the hub.
  std::unique_ptr<MetricsExporter> metrics;
  if (s.metrics.enabled) {
    const std::string bind = metrics_bind_address(s.metrics);
    metrics = MetricsExporter::start(bind, metrics_lcores(hub->dataplane(), s.dataplane.lcores),
                                     metrics_options(s.metrics), error);
    if (metrics == nullptr) {
      log_error("%s", error.c_str());
      hub->stop_workers();
      return 1;
    }
    hub->control().set_metrics(metrics.get(), s.interface.name);
    log_info("metrics on http://%s%s", bind.c_str(), kMetricsPath);
  }
  // While the control thread runs, log and audit lines leave through a
  // thread of their own (line_writer.hpp): a slow reader of stdout never
  // holds up a handshake. The start's and the stop's bulk lines (a line a
  // peer) are written where they are made, none dropped.
  line_writer_start();
  hub->run_control(g_signals);
  line_writer_stop();

  log_info("stopping");
  if (election) {
    // Fence, then revoke the lease: a standby takes over at once.
    hub->control().set_election(nullptr);  // fences
    uapi_backend.set_refusal({});
    election.reset();
  }
  hub->stop_workers();
  hub->control().set_metrics(nullptr, {});
  hub->control().set_uapi(nullptr);
  hub->control().set_store_sync(nullptr);
  store_sync.reset();
  uapi_server.reset();
  hub->control().print_status(true);
  metrics.reset();
  hub.reset();
  log_info("stopped");
  return 0;
}

}  // namespace wghub::ctl
