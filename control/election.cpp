// See election.hpp.
#include "control/election.hpp"

#include <algorithm>

#include "control/log.hpp"

namespace wghub::ctl {

void LeaseFence::renewed(Clock::time_point sent, std::chrono::seconds ttl) {
  deadline_ = sent + ttl;
  holding_ = true;
  const Clock::time_point until = deadline_ - margin_;
  answer_until_.store(until > sent ? until.time_since_epoch().count() : 0,
                      std::memory_order_release);
}

void LeaseFence::doubt() {
  answer_until_.store(0, std::memory_order_release);
}

void LeaseFence::release() {
  answer_until_.store(0, std::memory_order_release);
  holding_ = false;
}

std::chrono::milliseconds Election::margin_for(std::chrono::seconds ttl) {
  return std::max<std::chrono::milliseconds>(std::chrono::milliseconds(500),
                                             std::chrono::milliseconds(ttl) / 4);
}

Election::Election(std::unique_ptr<EtcdClient> client, ElectionOptions options)
    : client_(std::move(client)), options_(std::move(options)), fence_(margin_for(options_.ttl)) {
  if (options_.endpoints_prefix.empty())
    options_.endpoints_prefix = options_.key.substr(0, options_.key.rfind('/') + 1) + "endpoints/";
  // A keepalive that takes longer than its period is a failed one.
  client_->set_timeout(std::min<std::chrono::milliseconds>(
      std::chrono::milliseconds(2000),
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.ttl) / 3));
}

Election::~Election() {
  stop_ = true;
  leave_watch_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  fence_.release();
}

void Election::start() {
  thread_ = std::thread([this] { run(); });
}

void Election::abandon() {
  revoke_on_stop_ = false;
  stop_ = true;
  leave_watch_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ElectionStatus Election::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void Election::wait_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, d, [this] { return stop_.load(); });
}

void Election::observe_leader(const std::string& holder) {
  std::string before;
  {
    std::lock_guard lock(mutex_);
    before = status_.leader;
    if (holder == before) return;
    status_.leader = holder;
    if (!holder.empty()) ++status_.leader_changes;
  }
  if (!holder.empty())
    log_info("election: the leader is %s%s", holder.c_str(),
             holder == options_.node ? " (this hub)" : "");
}

void Election::set_connected(bool connected, const std::string& why) {
  bool was;
  {
    std::lock_guard lock(mutex_);
    was = status_.connected;
    status_.connected = connected;
  }
  if (was && !connected)
    log_warn("election: etcd lost (%s); retrying", why.c_str());
  else if (!was && connected)
    log_info("election: campaigning for %s as %s", options_.key.c_str(), options_.node.c_str());
}

void Election::run() {
  using namespace std::chrono_literals;
  std::chrono::milliseconds backoff = 250ms;
  while (!stop_) {
    std::string error;
    std::int64_t lease = 0, granted = 0;
    const Clock::time_point sent = Clock::now();
    EtcdClient::Campaign c;
    if (!client_->lease_grant(options_.ttl.count(), lease, granted, error) ||
        !client_->campaign(options_.key, options_.node, lease, c, error)) {
      if (lease != 0) {
        std::string ignored;
        client_->lease_revoke(lease, ignored);
      }
      set_connected(false, error);
      wait_for(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, 2000ms);
      continue;
    }
    backoff = 250ms;
    set_connected(true, "");
    if (c.won) {
      // Before the fence opens: the control thread takes these as it does.
      read_endpoints();
      fence_.renewed(sent, std::chrono::seconds(granted));
      observe_leader(options_.node);
      hold(lease);
      continue;
    }
    std::string ignored;
    client_->lease_revoke(lease, ignored);  // unused: the key is held
    observe_leader(c.holder);
    if (c.holder == options_.node)
      log_warn(
          "election: %s already holds this hub's name (%s) with another lease, from an earlier "
          "run or a second hub with the same node_name; waiting for it to expire",
          options_.key.c_str(), options_.node.c_str());
    stand_by(c.revision);
  }
}

void Election::hold(std::int64_t lease) {
  const auto period = std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds(100),
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.ttl) / 3);
  Clock::time_point next = Clock::now() + period;
  bool doubted = false;
  while (!stop_) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next, [this] { return stop_.load(); });
    }
    if (stop_) break;
    const Clock::time_point sent = Clock::now();
    next = sent + period;
    std::string error;
    std::int64_t left = 0;
    if (client_->lease_keepalive(lease, left, error)) {
      if (left <= 0) {
        fence_.release();
        log_warn("election: etcd says this hub's lease expired; standing by");
        return;
      }
      // The key must still be ours: deleted by hand, a standby campaigns.
      EtcdClient::Campaign c;
      if (client_->read_key(options_.key, c, error) && c.holder_lease != lease) {
        fence_.release();
        log_warn("election: %s no longer holds this hub's lease (holder: %s); standing by",
                 options_.key.c_str(), c.holder.empty() ? "none" : c.holder.c_str());
        std::string ignored;
        client_->lease_revoke(lease, ignored);
        observe_leader(c.holder);
        return;
      }
      fence_.renewed(sent, std::chrono::seconds(left));
      write_endpoints();
      if (doubted) log_info("election: keepalive answered again; answering on the ports");
      doubted = false;
      continue;
    }
    fence_.doubt();
    {
      std::lock_guard lock(mutex_);
      ++status_.keepalive_failures;
    }
    if (!doubted)
      log_warn(
          "election: keepalive failed (%s); not answering on the ports until etcd renews "
          "the lease",
          error.c_str());
    doubted = true;
    if (!fence_.held(Clock::now())) {
      fence_.release();
      log_warn("election: the lease ran out by this hub's clock; standing by");
      set_connected(false, error);
      return;
    }
    next = std::min(next, Clock::now() + std::chrono::milliseconds(100));
  }
  // Stopping: fence first, then hand over at once.
  fence_.release();
  if (revoke_on_stop_) {
    std::string error;
    if (client_->lease_revoke(lease, error))
      log_info("election: lease revoked; a standby takes over now");
  }
}

void Election::publish_endpoints(std::vector<std::pair<std::string, std::string>> changed) {
  std::lock_guard lock(mutex_);
  for (auto& c : changed) to_publish_.push_back(std::move(c));
}

std::vector<std::pair<std::string, std::string>> Election::take_endpoints() {
  std::lock_guard lock(mutex_);
  return std::move(taken_over_);
}

void Election::read_endpoints() {
  config::StoreSnapshot snap;
  std::string error;
  std::vector<std::pair<std::string, std::string>> found;
  if (!client_->range_prefix(options_.endpoints_prefix, snap, error)) {
    log_warn("election: cannot read the peers' endpoints under %s (%s); no takeover handshakes",
             options_.endpoints_prefix.c_str(), error.c_str());
  } else {
    for (auto& e : snap.entries)
      found.emplace_back(e.key.substr(options_.endpoints_prefix.size()), std::move(e.value));
  }
  std::lock_guard lock(mutex_);
  taken_over_ = std::move(found);
  to_publish_.clear();  // what an earlier term queued is stale
}

// One batch per keepalive period at most (the rate limit): the changes the
// control thread queued since the last one, in transactions of 128.
void Election::write_endpoints() {
  std::vector<std::pair<std::string, std::string>> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(to_publish_);
  }
  if (batch.empty()) return;
  std::vector<EtcdClient::Op> ops;
  ops.reserve(batch.size());
  for (auto& [name, value] : batch) ops.push_back({options_.endpoints_prefix + name, value});
  std::string error;
  if (!client_->write(ops, error)) {
    log_warn("election: publishing %zu endpoint(s) failed (%s); retrying with the next batch",
             batch.size(), error.c_str());
    std::lock_guard lock(mutex_);
    for (auto& b : batch) to_publish_.push_back(std::move(b));
    return;
  }
  std::lock_guard lock(mutex_);
  status_.endpoints_published += batch.size();
}

void Election::stand_by(std::int64_t revision) {
  leave_watch_ = false;
  if (stop_) return;  // after the store: a stop from now on is seen by the watch
  bool deleted = false;
  auto on_batch = [&](const WatchBatch& batch) {
    for (const WatchEvent& e : batch.events) {
      if (e.deleted) {
        deleted = true;
        leave_watch_ = true;
      } else {
        observe_leader(e.value);
      }
    }
  };
  std::string error;
  const bool ok = client_->watch_key(options_.key, revision + 1, on_batch, leave_watch_, error);
  if (stop_) return;
  if (deleted) {
    observe_leader("");
    log_info("election: %s was deleted; campaigning", options_.key.c_str());
    return;
  }
  if (!ok) {
    set_connected(false, error);
    wait_for(std::chrono::milliseconds(250));
  }
}

}  // namespace wghub::ctl
