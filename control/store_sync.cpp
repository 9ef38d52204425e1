// See store_sync.hpp.
#include "control/store_sync.hpp"

#include <ctime>
#include <map>

#include "control/audit.hpp"
#include "control/log.hpp"

namespace wghub::ctl {

StoreSync::StoreSync(std::unique_ptr<EtcdClient> client, std::string prefix)
    : client_(std::move(client)), prefix_(std::move(prefix)) {}

StoreSync::~StoreSync() {
  stop_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StoreSync::start() {
  thread_ = std::thread([this] { run(); });
}

std::shared_ptr<const config::StoreSnapshot> StoreSync::take(
    std::chrono::steady_clock::time_point* received) {
  if (!fresh_.load(std::memory_order_acquire)) return nullptr;  // every control poll asks
  std::lock_guard lock(mutex_);
  fresh_.store(false, std::memory_order_relaxed);
  if (received != nullptr) *received = received_;
  return std::move(latest_);
}

StoreStatus StoreSync::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void StoreSync::publish(std::shared_ptr<const config::StoreSnapshot> snap) {
  std::lock_guard lock(mutex_);
  status_.revision_seen = snap->revision;
  status_.last_contact_unix = static_cast<std::int64_t>(std::time(nullptr));
  received_ = std::chrono::steady_clock::now();
  latest_ = std::move(snap);
  fresh_.store(true, std::memory_order_release);
}

void StoreSync::wait(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, d, [this] { return stop_.load(); });
}

void StoreSync::set_connected(bool connected, const std::string& why) {
  bool was;
  {
    std::lock_guard lock(mutex_);
    was = status_.connected;
    status_.connected = connected;
    if (connected && !was && ever_connected_) ++status_.reconnects;
    if (connected) ever_connected_ = true;
  }
  if (connected == was) return;
  const std::string endpoint = client_->endpoint();
  if (connected) {
    log_info("store: connected to etcd at %s; watching %s", endpoint.c_str(), prefix_.c_str());
    AuditEvent("store_connected").add("endpoint", endpoint).add("prefix", prefix_).emit();
  } else {
    log_warn(
        "store: etcd lost (%s); forwarding goes on with the current peers, none is removed; "
        "retrying",
        why.c_str());
    AuditEvent("store_lost").add("reason", why).add("prefix", prefix_).emit();
  }
}

void StoreSync::run() {
  using namespace std::chrono_literals;
  std::chrono::milliseconds backoff = 250ms;
  bool logged_unreachable = false;
  while (!stop_) {
    auto snap = std::make_shared<config::StoreSnapshot>();
    std::string error;
    if (!client_->range_prefix(prefix_, *snap, error)) {
      if (status().connected || !logged_unreachable) {
        set_connected(false, error);
        if (!logged_unreachable && !ever_connected_)
          log_warn("store: etcd unreachable (%s); retrying", error.c_str());
        logged_unreachable = true;
      }
      wait(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, 2000ms);
      continue;
    }
    backoff = 250ms;
    logged_unreachable = false;
    std::map<std::string, std::string> keys;
    for (auto& e : snap->entries) keys.emplace(e.key, e.value);
    const std::int64_t revision = snap->revision;
    publish(std::move(snap));
    set_connected(true, "");
    // Each batch of events: the prefix as it now is, published whole.
    auto on_batch = [&](const WatchBatch& batch) {
      for (const WatchEvent& e : batch.events) {
        if (e.deleted)
          keys.erase(e.key);
        else
          keys[e.key] = e.value;
      }
      auto next = std::make_shared<config::StoreSnapshot>();
      next->revision = batch.revision;
      next->entries.reserve(keys.size());
      for (const auto& [k, v] : keys) next->entries.push_back(config::StoreEntry{k, v});
      publish(std::move(next));
    };
    auto on_alive = [this] {
      std::lock_guard lock(mutex_);
      status_.last_contact_unix = static_cast<std::int64_t>(std::time(nullptr));
    };
    if (client_->watch_prefix(prefix_, revision + 1, on_batch, stop_, error, on_alive))
      break;  // stopped
    if (stop_) break;
    if (error == "compacted") {
      log_info("store: the watch fell behind etcd's compaction; reading %s again", prefix_.c_str());
      continue;
    }
    set_connected(false, error);
    logged_unreachable = true;
    wait(backoff);
  }
}

}  // namespace wghub::ctl
