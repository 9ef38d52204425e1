// See reload.hpp.
#include "control/reload.hpp"

#include <cinttypes>

#include "config/store_cache.hpp"
#include "control/audit.hpp"
#include "control/cpu_affinity.hpp"
#include "control/log.hpp"

namespace wghub::ctl {

namespace {

using Clock = std::chrono::steady_clock;

double ms(std::chrono::nanoseconds d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

Reloader::Reloader(Device& device, std::shared_ptr<const config::DesiredState>& state,
                   ReloadOptions options)
    : device_(device), state_(state), options_(options) {}

Reloader::~Reloader() {
  join();
}

void Reloader::join() {
  if (thread_.joinable()) thread_.join();
}

void Reloader::request() {
  if (job_ != nullptr) {
    if (!pending_) log_info("reload: one is in flight; this one follows it");
    pending_ = true;
    return;
  }
  start();
}

void Reloader::request_store(std::shared_ptr<const config::StoreSnapshot> snapshot,
                             std::chrono::steady_clock::time_point received) {
  store_ = std::move(snapshot);
  store_received_ = received;
  pending_from_store_ = true;
  if (job_ != nullptr) {
    pending_ = true;  // the newest snapshot follows the job in flight
    return;
  }
  start();
}

void Reloader::start() {
  pending_ = false;
  join();  // the disposal of the previous job: long finished
  job_ = std::make_unique<Job>();
  job_->path = state_->source_file;
  job_->running = state_;
  job_->store = state_->store.enabled() ? store_ : nullptr;
  job_->from_store = pending_from_store_;
  job_->received = store_received_;
  job_->report.from_store = pending_from_store_;
  pending_from_store_ = false;
  Job* job = job_.get();
  thread_ = std::thread([job, cpus = cpus_] {
    allow_cpus(pthread_self(), cpus);  // best effort: else it shares the control CPU
    lower_this_thread();               // and below the control thread where it shares
    const auto t0 = Clock::now();
    // The running state remembers what its load read: the files whose text
    // did not change are not parsed again (config/sources.hpp).
    job->loaded = config::load_config_file(job->path, job->running.get(), job->store.get());
    if (job->loaded.ok() && job->store != nullptr &&
        !(job->loaded.state->store == job->running->store)) {
      // The snapshot holds the running store's prefix: peers loaded with
      // other store settings (or the file's, without a store) would remove
      // every peer. The store settings take a restart; nothing is applied.
      job->loaded.errors.push_back(config::ConfigError{
          job->path, 0, 0, "store",
          "the store settings changed; that takes a restart (the hub keeps its peers and "
          "watches the running store until then); nothing applied"});
      job->loaded.state = nullptr;
    }
    if (job->loaded.ok()) {
      job->diff = config::diff(*job->running, *job->loaded.state);
      // Nothing that takes a restart differs: the loaded state runs as it
      // is (no copy of every peer).
      if (job->diff.restart_needed.empty())
        job->next = job->loaded.state;
      else
        job->next = std::make_shared<const config::DesiredState>(
            config::merge_restart_settings(*job->running, *job->loaded.state));
    }
    job->parse_and_diff = Clock::now() - t0;
    job->done.store(true, std::memory_order_release);
  });
}

bool Reloader::step() {
  if (job_ == nullptr) {
    if (pending_) start();
    return busy();
  }
  if (job_->phase == Phase::kParsing) {
    if (!job_->done.load(std::memory_order_acquire)) return true;
    join();
    picked_up();
    if (job_ == nullptr) return busy();
  }
  apply_slice();
  return busy();
}

void Reloader::picked_up() {
  if (!job_->loaded.ok()) {
    refuse();
    return;
  }
  for (const std::string& field : job_->diff.restart_needed)
    log_warn("reload: %s changed; that takes a restart, the running value stays", field.c_str());
  job_->report.parse_and_diff = job_->parse_and_diff;
  job_->phase = Phase::kApplying;
}

void Reloader::refuse() {
  const std::string& path = job_->path;
  std::vector<std::string> errors;
  for (const auto& e : job_->loaded.errors) {
    log_error("reload: %s", e.to_string().c_str());
    errors.push_back(e.to_string());
  }
  if (job_->from_store) ++store_stats_.refused;
  AuditEvent("config_refused")
      .add("file", path)
      .add("source", job_->from_store ? "store" : "reload")
      .add("errors", errors)
      .emit();
  if (job_->store != nullptr)
    log_error(
        "reload: %zu error(s) in %s or the store's peers (revision %lld); the running "
        "configuration is unchanged",
        job_->loaded.errors.size(), path.c_str(), static_cast<long long>(job_->store->revision));
  else
    log_error("reload: %zu error(s) in %s; the running configuration is unchanged",
              job_->loaded.errors.size(), path.c_str());
  last_ = ReloadReport{};
  last_.errors = std::move(errors);
  ++completed_;
  dispose(std::move(job_));
}

// One peer of the diff: item < removed, then added, then changed.
bool Reloader::apply_one(std::size_t item) {
  const config::StateDiff& d = job_->diff;
  ReloadReport& r = job_->report;
  if (item < d.removed.size()) {
    if (device_.remove_peer(job_->running->peers[d.removed[item]].public_key)) ++r.removed;
    return true;
  }
  item -= d.removed.size();
  const bool is_new = item < d.added.size();
  const std::uint32_t index = is_new ? d.added[item] : d.changed[item - d.added.size()].index;
  const config::Peer& peer = job_->next->peers[index];
  std::string error;
  if (!device_.add_peer(PeerSpec::from(peer), error)) {
    log_error("reload: peer %s (%s:%d): %s", peer.name.c_str(), peer.origin.file.c_str(),
              peer.origin.line, error.c_str());
    ++r.failed;
    return false;
  }
  ++(is_new ? r.added : r.changed);
  return true;
}

void Reloader::apply_slice() {
  const std::size_t total = job_->diff.peer_changes();
  const auto t0 = Clock::now();
  std::size_t done = 0;
  while (job_->cursor < total) {
    apply_one(job_->cursor++);
    ++done;
    if (options_.max_peers_per_slice != 0 && done >= options_.max_peers_per_slice) break;
    if (Clock::now() - t0 >= options_.slice_budget) break;
  }
  ReloadReport& r = job_->report;
  if (done != 0) {
    ++r.slices;
    r.longest_slice = std::max<std::chrono::nanoseconds>(r.longest_slice, Clock::now() - t0);
  }
  if (job_->cursor >= total) finish();
}

void Reloader::finish() {
  ReloadReport& r = job_->report;
  const auto t0 = Clock::now();
  // The running state is replaced here; the old one goes to the disposal
  // thread with the job (this reference is not the last: job_->running).
  state_ = job_->next;
  r.longest_slice = std::max<std::chrono::nanoseconds>(r.longest_slice, Clock::now() - t0);
  r.ok = r.failed == 0;
  if (job_->store != nullptr) {
    store_stats_.revision_applied = job_->store->revision;
    store_stats_.peer_changes += r.added + r.removed + r.changed;
    if (job_->from_store) store_stats_.last_lag = Clock::now() - job_->received;
  }
  AuditEvent("config_applied")
      .add("file", job_->path)
      .add("source", job_->from_store ? "store" : "reload")
      .add("added", std::uint64_t{r.added})
      .add("removed", std::uint64_t{r.removed})
      .add("changed", std::uint64_t{r.changed})
      .add("failed", std::uint64_t{r.failed})
      .add("peers", std::uint64_t{device_.peers().size()})
      .add("restart_needed", job_->diff.restart_needed)
      .emit();
  if (job_->from_store)
    log_info(
        "store: revision %lld applied: %zu peer(s) added, %zu removed, %zu changed, %zu failed; "
        "%zu peer(s); %.1f ms from the watch event to the last slice (parsed and diffed in %.1f "
        "ms off the control thread, %zu unchanged value(s) reused; %zu slice(s))",
        static_cast<long long>(job_->store->revision), r.added, r.removed, r.changed, r.failed,
        device_.peers().size(), ms(store_stats_.last_lag), ms(r.parse_and_diff),
        job_->loaded.peers_reused, r.slices);
  else
    log_info(
        "reload of %s applied: %zu peer(s) added, %zu removed, %zu changed, %zu failed; %zu "
        "peer(s); parsed and diffed in %.1f ms off the control thread, applied in %zu slices, "
        "longest slice %.3f ms, longest control poll meanwhile %.3f ms; %zu file(s) parsed, "
        "%zu peer(s) reused from unchanged files",
        job_->path.c_str(), r.added, r.removed, r.changed, r.failed, device_.peers().size(),
        ms(r.parse_and_diff), r.slices, ms(r.longest_slice), ms(r.longest_poll),
        job_->loaded.files_parsed, job_->loaded.peers_reused);
  last_ = r;
  ++completed_;
  job_->write_cache = job_->store != nullptr && r.ok;
  dispose(std::move(job_));
}

void Reloader::dispose(std::unique_ptr<Job> job) {
  join();
  // The old state, the loaded one and the diff: O(peers) frees, off this thread.
  // An applied store snapshot is the last good store state, cached for a
  // start without etcd (store_cache.hpp): written here, after the slices,
  // so a change reaches the data plane before the file is written.
  thread_ = std::thread([j = std::move(job)]() mutable {
    if (j->write_cache) {
      const config::Store& st = j->running->store;
      std::string error;
      if (!config::write_store_cache(st.cache_file, st.prefix, *j->store, error))
        log_warn("store: cannot cache the store state: %s", error.c_str());
    }
    j.reset();
  });
}

}  // namespace wghub::ctl
