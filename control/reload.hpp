// A reload (SIGHUP, or Hub::reload) without stopping the control thread.
// DESIGN.md: "Config parse and diff run off it; changes are applied in
// slices". The control thread only ever does bounded work here:
//
//   request()   SIGHUP: starts a job, or marks one to follow the job in
//               flight (any number of requests meanwhile coalesce into one).
//   step()      once per control poll: picks up a finished parse, then
//               applies one slice of the diff, bounded by a time budget
//               (and, for tests, a peer count), so handshakes, keepalives
//               and the wg(8) socket are served between slices.
//
// The job's thread loads the file, diffs it against the running state
// (config/diff.hpp) and builds the state that will run (restart settings
// kept; the loaded state itself when none differs). The load is given the
// running state, so files whose text did not change since it was loaded are
// not parsed again (config/sources.hpp). Both states are immutable, so
// nothing is shared but the job, handed over through one atomic flag. A file
// with errors changes nothing and each error is logged as file:line:column.
// The old state is destroyed on a thread too: freeing 10^5 peers is a stall
// of its own.
//
// With a store (docs/ha.md), the peers are a store snapshot's: a store
// change is request_store(snapshot), which runs the same job with the newest
// snapshot (a SIGHUP reload uses it too), and a snapshot that was applied
// is written to the store cache on the disposal thread.
//
// Order of the slices: removals, then additions and changes (a prefix that
// moves from a removed peer to a new one is free by then). Peers the diff
// does not name are not touched. While slices are applied, the running
// state (Hub::state) is still the old file's; it is replaced after the
// last slice.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/diff.hpp"
#include "config/loader.hpp"
#include "control/device.hpp"

namespace wghub::ctl {

struct ReloadOptions {
  // One slice stops at the first peer after this much time.
  std::chrono::microseconds slice_budget{1000};
  // And after this many peers (0: no limit). Tests use it to get a known
  // number of slices independent of the machine's speed.
  std::size_t max_peers_per_slice = 0;
};

struct ReloadReport {
  bool ok = false;  // applied (false: the file was refused, or a peer failed)
  std::size_t added = 0, removed = 0, changed = 0, failed = 0;
  std::size_t slices = 0;
  std::chrono::nanoseconds longest_slice{0};
  // The longest whole control poll while the reload was in flight (its
  // slice plus the rings, timers and wg(8) work of that poll).
  std::chrono::nanoseconds longest_poll{0};
  std::chrono::nanoseconds parse_and_diff{0};  // on the job's thread
  std::vector<std::string> errors;             // a refused file's, as file:line:column: ...
  bool from_store = false;                     // started by a store change
};

// What the store's changes did (metrics, docs/ha.md).
struct StoreApplyStats {
  std::int64_t revision_applied = 0;     // the snapshot the running state holds
  std::uint64_t peer_changes = 0;        // peers added, removed or changed from the store
  std::uint64_t refused = 0;             // snapshots with errors (nothing applied)
  std::chrono::nanoseconds last_lag{0};  // snapshot received -> its last slice applied
};

class Reloader {
 public:
  // `state` is the hub's running state; the reloader replaces it when a
  // reload has been applied. Both must outlive the reloader.
  Reloader(Device& device, std::shared_ptr<const config::DesiredState>& state,
           ReloadOptions options = {});
  ~Reloader();
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  void request();
  // A store change: the newest snapshot; the job in flight (if any) is
  // followed by one with it. `received`: when the watch delivered it.
  void request_store(std::shared_ptr<const config::StoreSnapshot> snapshot,
                     std::chrono::steady_clock::time_point received);
  // The snapshot that runs at start (the hub's first state was loaded from it).
  void set_store(std::shared_ptr<const config::StoreSnapshot> snapshot) {
    store_ = std::move(snapshot);
    if (store_) store_stats_.revision_applied = store_->revision;
  }
  const StoreApplyStats& store_stats() const { return store_stats_; }
  // Waits for the last job's disposal thread (the store cache is written
  // there): tests that read the cache.
  void wait_disposed() {
    if (job_ == nullptr) join();
  }
  // Control thread, every poll. True while a reload is parsing, applying or queued.
  bool step();
  bool busy() const { return job_ != nullptr || pending_; }
  // True once the job in flight has been parsed and diffed (its slices may follow).
  bool parsed() const { return job_ != nullptr && job_->phase == Phase::kApplying; }

  // The control thread's poll that just ran took `d` (the stall every
  // packet queued for it waited through at most).
  void observe_poll(std::chrono::nanoseconds d) {
    if (job_ != nullptr) job_->report.longest_poll = std::max(job_->report.longest_poll, d);
  }

  const ReloadReport& last() const { return last_; }
  std::uint64_t completed() const { return completed_; }
  void set_options(const ReloadOptions& options) { options_ = options; }
  // The CPUs the parse thread (and the peers_dir threads it starts) may use
  // (cpu_affinity.hpp); empty: the control thread's.
  void set_cpus(std::vector<unsigned> cpus) { cpus_ = std::move(cpus); }

 private:
  enum class Phase { kParsing, kApplying };
  struct Job {
    std::string path;
    std::shared_ptr<const config::DesiredState> running;  // what the diff is against
    std::shared_ptr<const config::StoreSnapshot> store;   // the peers, when from a store
    bool from_store = false;
    std::chrono::steady_clock::time_point received;
    bool write_cache = false;  // applied from a store: cache the snapshot
    config::LoadResult loaded;
    std::shared_ptr<const config::DesiredState> next;  // loaded + running restart settings
    config::StateDiff diff;
    std::chrono::nanoseconds parse_and_diff{0};
    std::atomic<bool> done{false};
    Phase phase = Phase::kParsing;
    std::size_t cursor = 0;  // removals first, then additions, then changes
    ReloadReport report;
  };

  void start();
  void picked_up();
  void apply_slice();
  bool apply_one(std::size_t item);
  void finish();
  void refuse();
  void dispose(std::unique_ptr<Job> job);
  void join();

  Device& device_;
  std::shared_ptr<const config::DesiredState>& state_;
  ReloadOptions options_;
  std::unique_ptr<Job> job_;
  bool pending_ = false;
  std::thread thread_;  // the job's parse, or the disposal of the last one
  std::vector<unsigned> cpus_;
  std::shared_ptr<const config::StoreSnapshot> store_;
  bool pending_from_store_ = false;
  std::chrono::steady_clock::time_point store_received_;
  StoreApplyStats store_stats_;
  ReloadReport last_;
  std::uint64_t completed_ = 0;
};

}  // namespace wghub::ctl
