// The hub assembled: ports, shared tables, device, handshake engine, control
// thread and one worker per configured lcore. run_hub() is the program's
// life (EAL, start, run until SIGINT/SIGTERM, stop); Hub is the same
// assembly as an object so that in-process tests can build it on net_ring
// ports and step its workers and control thread by hand.
#pragma once

#include <rte_ring.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "control/control_thread.hpp"
#include "control/control_tx.hpp"
#include "control/device.hpp"
#include "control/handshake_engine.hpp"
#include "control/handshake_threads.hpp"
#include "control/reload.hpp"
#include "control/table_sizes.hpp"
#include "dataplane/context.hpp"
#include "dataplane/worker.hpp"

namespace wghub::ctl {

struct HubOptions {
  bool busy_poll = false;                 // workers never sleep when idle
  unsigned status_interval_s = 10;        // status line period; 0 = off
  std::string extra_eal_args;             // appended to the EAL command line
  std::string audit_log;                  // also append audit JSON lines here (empty: stdout only)
  dp::IcmpErrorLimit icmp_error_limit{};  // ICMP errors the hub may originate (context.hpp)
  // CPUs the handshake threads and the reload's parse may run on; empty:
  // every CPU but the workers' lcores (the perf tool, whose workers are
  // stepped by hand, gives all).
  std::vector<unsigned> handshake_cpus;
  // Tests: these table sizes instead of those sized from the config (a tiny
  // FIB that fills part way through a peer's AllowedIPs).
  std::optional<TableSizes> table_sizes;
  // With a store: the snapshot the state's peers came from (store_start.hpp).
  std::shared_ptr<const config::StoreSnapshot> store_snapshot;
  // When the process began and how long loading the config took (main):
  // the "wghub running" line says what the start cost, step by step.
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  double config_seconds = 0;
};

class Hub {
 public:
  // Builds everything on an already started EAL; launches nothing. nullptr
  // with a message naming the config field when something cannot be set up.
  static std::unique_ptr<Hub> create(std::shared_ptr<const config::DesiredState> state,
                                     const HubOptions& options, std::string& error);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Runs worker i on the config's lcore i (rte_eal_remote_launch).
  bool launch_workers(std::string& error);
  // Stops and joins launched workers.
  void stop_workers();
  // Steps every worker once on the calling thread (tests; never together
  // with launched workers). Returns the packets received.
  unsigned poll_workers_once();
  unsigned poll_control_once() { return control_->poll_once(); }
  // Handshake messages queued for, or being prepared by, handshake threads
  // (tests that step the hub wait for them).
  std::size_t handshakes_in_flight() const {
    return handshake_threads_ ? handshake_threads_->in_flight() + rte_ring_count(dp_->handshakes) +
                                    rte_ring_count(dp_->handshakes_proven)
                              : 0;
  }
  void run_control(ControlSignals& signals) {
    control_->run(signals, [this] { reloader_->request(); });
  }
  // Re-reads the config file and applies the difference in peers (added,
  // removed, changed; unchanged peers and their sessions are not touched).
  // A file with errors changes nothing: each error is logged. Settings that
  // need a restart (every field but the peers; config/diff.hpp) are named,
  // not applied. The control loop does this in the background (reload.hpp:
  // parse and diff on a thread, the diff applied in slices between polls);
  // reload() is the same, run to its end on the calling thread for callers
  // that step the hub by hand. Returns false when the file was refused or a
  // peer could not be applied.
  bool reload();
  // SIGHUP's way: starts (or queues) a reload that poll_control_once() advances.
  void request_reload() { reloader_->request(); }
  Reloader& reloader() { return *reloader_; }

  const config::DesiredState& state() const { return *state_; }
  dp::Dataplane& dataplane() { return *dp_; }
  Device& device() { return *device_; }
  HandshakeEngine& engine() { return *engine_; }
  ControlThread& control() { return *control_; }
  const HandshakeThreads* handshake_threads() const { return handshake_threads_.get(); }
  const PublicKey& public_key() const { return engine_->public_key(); }

 private:
  Hub() = default;

  std::shared_ptr<const config::DesiredState> state_;
  std::unique_ptr<dp::Dataplane> dp_;
  std::unique_ptr<ControlTx> tx_;
  std::unique_ptr<Device> device_;
  std::unique_ptr<HandshakeEngine> engine_;
  std::unique_ptr<ControlThread> control_;
  std::unique_ptr<HandshakeThreads> handshake_threads_;
  std::unique_ptr<Reloader> reloader_;
  std::vector<std::unique_ptr<dp::Worker>> workers_;
  bool launched_ = false;
};

// The program: EAL from the config, Hub::create, launch, run, stop. Returns
// the exit code (0 clean stop, 1 could not start; the reason is printed).
int run_hub(std::shared_ptr<const config::DesiredState> state, const HubOptions& options);

}  // namespace wghub::ctl
