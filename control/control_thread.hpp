// The control thread's loop (main lcore): drains the rings the workers fill,
// proven handshake messages first, then the unproven ones, then the local
// ring (ARP, NDP, ICMP echo to the appliance, frames waiting for a
// neighbour), worker events and staged packets. It decides "under load" from
// the unproven ring's depth alone (under_load.hpp) and tells the workers,
// which then answer cookies themselves (dataplane/cookie_gate.hpp). It runs
// the periodic work of the device and the control tx path, and prints status
// lines.
#pragma once

#include <rte_mbuf.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "control/control_tx.hpp"
#include "control/device.hpp"
#include "control/handshake_engine.hpp"
#include "control/handshake_threads.hpp"
#include "control/metrics_snapshot.hpp"
#include "control/poll_histogram.hpp"
#include "control/under_load.hpp"
#include "dataplane/context.hpp"

namespace wghub::ctl {

class MetricsExporter;
class Reloader;
class StoreSync;
class RoleSource;
namespace uapi {
class Server;
}

// Set by signal handlers, read by the control loop.
struct ControlSignals {
  volatile std::sig_atomic_t stop = 0;    // SIGINT, SIGTERM
  volatile std::sig_atomic_t dump = 0;    // SIGUSR1: full status dump
  volatile std::sig_atomic_t reload = 0;  // SIGHUP: re-read the config file
};

struct ControlCounters {
  std::uint64_t arp_answered = 0;
  std::uint64_t ndp_answered = 0;  // Neighbor Advertisements sent for our addresses
  std::uint64_t ndp_bad = 0;       // NS/NA refused by RFC 4861 7.1 (bad_ndp)
  std::uint64_t icmp_answered = 0;
  std::uint64_t handshake_messages = 0;
  std::uint64_t under_load_entered = 0;
  // Unproven messages that were already queued when the hub came under load,
  // answered with a cookie reply here instead of a handshake.
  std::uint64_t cookie_replies_sent = 0;
  // handshake_failed log and audit lines over their budget (kFailureLines).
  std::uint64_t log_lines_suppressed = 0;
};

class ControlThread {
 public:
  ControlThread(dp::Dataplane& dp, Device& device, HandshakeEngine& engine, ControlTx& tx,
                unsigned status_interval_s);

  // Runs until signals.stop; a dump request prints the full status, a
  // reload request calls `on_reload` (between two polls, on this thread;
  // it should only start the reload, which poll_once() then advances).
  void run(ControlSignals& signals, const std::function<void()>& on_reload);
  // One pass: drain the ring and run due periodic work. Returns the number
  // of mbufs taken from the ring (tests step the control thread with it).
  unsigned poll_once();

  // Publishes a metrics snapshot to `exporter` about once a second (nullptr:
  // none). The exporter must outlive the control thread's loop.
  void set_metrics(MetricsExporter* exporter, std::string interface_name);

  // Takes the handshake rings from these threads' output instead of reading
  // them itself (handshake_threads.hpp; nullptr: none).
  void set_handshake_threads(HandshakeThreads* threads) { handshake_threads_ = threads; }
  const HandshakeThreads* handshake_threads() const { return handshake_threads_; }

  // Serves the wg(8) socket from this thread (nullptr: none).
  void set_uapi(uapi::Server* server) { uapi_ = server; }
  // Advances a reload in the background, one bounded slice per poll
  // (reload.hpp; nullptr: none).
  void set_reloader(Reloader* reloader) { reloader_ = reloader; }
  // Hands each new store snapshot to the reloader (store_sync.hpp; nullptr: none).
  void set_store_sync(StoreSync* sync) { store_sync_ = sync; }
  const StoreSync* store_sync() const { return store_sync_; }
  const Reloader* reloader() const { return reloader_; }
  // Gates the WAN on the election's fence every poll (election.hpp;
  // nullptr: none, always active). Set before the first poll; setting it,
  // or clearing it at shutdown, fences the WAN until the next election win.
  void set_election(RoleSource* election);
  const RoleSource* election() const { return election_; }
  // Role changes seen here: to active (a takeover) and to standby.
  std::uint64_t became_active() const { return became_active_; }
  std::uint64_t became_standby() const { return became_standby_; }
  // Handshakes started on takeover to the endpoints the previous active hub
  // published (docs/ha.md).
  std::uint64_t takeover_dials() const { return takeover_dials_; }
  // Peers per poll in the takeover and endpoint-publication scans (tests
  // make it small to see the slicing).
  void set_scan_slice(std::size_t peers) { scan_slice_ = peers == 0 ? 1 : peers; }

  void print_status(bool full) const;
  bool under_load() const { return load_.active(); }
  const ControlCounters& counters() const { return counters_; }
  // How long this thread's polls took (the stalls its rings waited through).
  const PollHistogram& poll_histogram() const { return polls_; }

 private:
  void update_load(TimePoint now);
  void process_local(rte_mbuf* m, std::uint64_t now_tsc);
  unsigned poll_handshakes(TimePoint now, std::uint64_t now_tsc);
  void process_handshake(rte_mbuf* m, bool proven, HandshakeEngine::Prepared* prepared,
                         TimePoint now, std::uint64_t now_tsc);
  void on_wireguard(rte_mbuf* m, const dp::Classified& c, bool proven,
                    HandshakeEngine::Prepared* prepared, TimePoint now, std::uint64_t now_tsc);
  void update_role();
  void takeover_step(TimePoint now);
  void on_ndp(rte_mbuf* m, dp::PortContext& port, const dp::Classified& c, std::uint64_t now_tsc);

  dp::Dataplane& dp_;
  Device& device_;
  HandshakeEngine& engine_;
  ControlTx& tx_;
  unsigned status_interval_s_;
  // Log and audit lines a stranger can cause (a replayed initiation of a
  // known peer): 10 a second, 20 banked.
  static constexpr std::uint64_t kFailureLinesPerSecond = 10;
  static constexpr std::uint64_t kFailureLinesBurst = 20;
  dp::TokenBucket failure_lines_;
  std::uint64_t reported_suppressed_ = 0;
  UnderLoad load_;
  crypto::RandomBuffer random_;  // nonces of the cookie replies sent from here
  TimePoint next_tick_{};
  TimePoint tick_pass_start_{};
  bool tick_pass_open_ = false;  // a pass over the peers is under way (Device::tick_slice)
  TimePoint next_status_{};
  ControlCounters counters_;
  PollHistogram polls_;
  MetricsExporter* metrics_ = nullptr;
  uapi::Server* uapi_ = nullptr;
  HandshakeThreads* handshake_threads_ = nullptr;
  std::vector<HandshakeThreads::Job> handshake_jobs_;  // reused between polls
  Reloader* reloader_ = nullptr;
  StoreSync* store_sync_ = nullptr;
  RoleSource* election_ = nullptr;
  std::uint64_t became_active_ = 0, became_standby_ = 0;
  // Takeover handshakes: the endpoints to dial (a slice per poll) and the
  // ones published so far (only changes are published, every 2 s).
  std::vector<std::pair<std::string, std::string>> takeover_queue_;
  std::size_t takeover_next_ = 0;
  // Both scans over the peers go a slice per poll (scan_slice_ peers), so
  // neither stalls the control thread at 10^5 peers.
  void clear_takeover_map();  // back to the first dial and an empty, unbuilt map
  std::unordered_map<std::string, std::uint32_t> takeover_slots_;  // peer name -> slot
  std::uint32_t takeover_scan_ = 0;  // the next slot to map; building while not ready
  bool takeover_slots_ready_ = false;
  std::uint64_t takeover_dials_ = 0;
  std::unordered_map<std::string, std::string> published_endpoints_;
  TimePoint next_publish_{};
  std::uint32_t publish_scan_ = 0;  // the next slot to compare in the pass under way
  bool publish_open_ = false;       // a pass is under way
  std::size_t scan_slice_ = 4096;
  std::string metrics_interface_;
  MetricsSnapshotBuilder metrics_builder_;  // the snapshot under way, and the peers' labels
  TimePoint next_metrics_{};
  TimePoint metrics_pass_start_{};
  std::chrono::nanoseconds metrics_pass_busy_{};  // the pass's slices so far
  TimePoint next_slow_poll_log_{};                // the next slow poll that may be logged
};

}  // namespace wghub::ctl
