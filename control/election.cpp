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

void LeaseFence::promised(Clock::time_point sent, std::chrono::milliseconds ttl) {
  const Clock::time_point until = sent + ttl - margin_;
  if (until <= sent) return;
  const Clock::rep ticks = until.time_since_epoch().count();
  // Only the election thread writes; max() keeps a later lease deadline.
  if (ticks > answer_until_.load(std::memory_order_relaxed))
    answer_until_.store(ticks, std::memory_order_release);
}

void LeaseFence::release() {
  answer_until_.store(0, std::memory_order_release);
  holding_ = false;
}

std::chrono::milliseconds Election::margin_for(std::chrono::seconds ttl) {
  return std::max<std::chrono::milliseconds>(std::chrono::milliseconds(500),
                                             std::chrono::milliseconds(ttl) / 4);
}

std::string Election::endpoints_prefix_for(const std::string& leader_key) {
  return leader_key.substr(0, leader_key.rfind('/') + 1) + "endpoints/";
}

Election::Election(std::unique_ptr<EtcdClient> client, ElectionOptions options)
    : client_(std::move(client)), options_(std::move(options)), fence_(margin_for(options_.ttl)) {
  if (options_.endpoints_prefix.empty())
    options_.endpoints_prefix = endpoints_prefix_for(options_.key);
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
  ElectionStatus s;
  {
    std::lock_guard lock(mutex_);
    s = status_;
  }
  if (options_.failsafe) {
    s.failsafe_enabled = true;
    s.failsafe = options_.failsafe->status();
  }
  return s;
}

void Election::set_failsafe_answering(bool on) {
  bool was;
  {
    std::lock_guard lock(mutex_);
    was = status_.failsafe_answering;
    status_.failsafe_answering = on;
  }
  if (on && !was)
    log_warn(
        "election: etcd unreachable; all %zu other hub(s) promised not to campaign: answering "
        "on (failsafe mode) until etcd is back",
        options_.failsafe->peer_count());
  else if (!on && was)
    log_info("election: failsafe mode over");
}

// Asks the other hubs for promises (failsafe.hpp), waiting half a keepalive
// period at most, so a keepalive and a round fit well inside one margin.
bool Election::failsafe_round() {
  if (!options_.failsafe) return false;
  const auto wait = std::clamp<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.ttl) / 6,
      std::chrono::milliseconds(50), std::chrono::milliseconds(500));
  Clock::time_point sent;
  if (!options_.failsafe->round(wait, sent)) return false;
  fence_.promised(sent, std::chrono::duration_cast<std::chrono::milliseconds>(options_.ttl));
  return true;
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

bool Election::connected() const {
  std::lock_guard lock(mutex_);
  return status_.connected;
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
  PromiseGate* gate = options_.failsafe ? &options_.failsafe->gate() : nullptr;
  bool recampaign = false;  // the fence is open on promises: campaign at once
  // A campaign on promises that failed or lost: the fence closes now.
  auto stop_recampaign = [&] {
    fence_.release();
    set_failsafe_answering(false);
    recampaign = false;
  };
  bool waiting_logged = false;
  while (!stop_) {
    // With failsafe peers, a hub that lost etcd reads the key before it
    // campaigns: a campaign refuses promises, which the active hub may need
    // right now, and a read that fails costs the active hub nothing.
    if (gate != nullptr && !recampaign && !connected()) {
      EtcdClient::Campaign seen;
      std::string error;
      if (!client_->read_key(options_.key, seen, error)) {
        set_connected(false, error);
        wait_for(backoff);
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, 2000ms);
        continue;
      }
      if (seen.holder_lease != 0 && seen.holder != options_.node) {
        backoff = 250ms;
        set_connected(true, "");
        observe_leader(seen.holder);
        stand_by(seen.revision);
        continue;
      }
    }
    if (gate != nullptr && !gate->begin_campaign(Clock::now())) {
      // This hub promised the active one not to campaign for now.
      if (!waiting_logged)
        log_info(
            "election: promised the active hub not to campaign; waiting until the promise "
            "runs out");
      waiting_logged = true;
      wait_for(100ms);
      continue;
    }
    waiting_logged = false;
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
      if (gate != nullptr) gate->end_campaign();
      if (recampaign) {
        stop_recampaign();
        log_warn("election: campaigning again failed (%s); standing by", error.c_str());
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
      // (Not when campaigning again while answering: no takeover then.)
      if (!recampaign) read_endpoints();
      fence_.renewed(sent, std::chrono::seconds(granted));
      set_failsafe_answering(false);
      observe_leader(options_.node);
      recampaign = hold(lease);
      if (!recampaign && gate != nullptr) gate->end_campaign();
      continue;
    }
    if (recampaign) stop_recampaign();
    if (gate != nullptr) gate->end_campaign();
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

bool Election::hold(std::int64_t lease) {
  const auto period = std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds(100),
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.ttl) / 3);
  Clock::time_point next = Clock::now() + period;
  bool doubted = false;
  bool on_failsafe = false;  // the fence is open on the other hubs' promises
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
      // etcd is back after a failsafe spell, but the lease ran out meanwhile:
      // the other hubs still promise, so this one campaigns again at once.
      const bool on_promises = on_failsafe && fence_.answering(Clock::now());
      if (left <= 0) {
        if (on_promises) {
          log_warn(
              "election: etcd is back and this hub's lease expired meanwhile; campaigning "
              "again (the other hubs promised not to)");
          return true;
        }
        fence_.release();
        log_warn("election: etcd says this hub's lease expired; standing by");
        return false;
      }
      // The key must still be ours: deleted by hand, a standby campaigns.
      EtcdClient::Campaign c;
      if (client_->read_key(options_.key, c, error) && c.holder_lease != lease) {
        if (on_promises && c.holder_lease == 0) {
          log_warn(
              "election: etcd is back and %s is gone; campaigning again (the other hubs "
              "promised not to)",
              options_.key.c_str());
          std::string ignored;
          client_->lease_revoke(lease, ignored);
          return true;
        }
        fence_.release();
        log_warn("election: %s no longer holds this hub's lease (holder: %s); standing by",
                 options_.key.c_str(), c.holder.empty() ? "none" : c.holder.c_str());
        std::string ignored;
        client_->lease_revoke(lease, ignored);
        observe_leader(c.holder);
        return false;
      }
      fence_.renewed(sent, std::chrono::seconds(left));
      set_failsafe_answering(false);
      write_endpoints();
      if (doubted) log_info("election: keepalive answered again; answering on the ports");
      doubted = false;
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      ++status_.keepalive_failures;
    }
    if (failsafe_round()) {
      // Every other hub promised: answering on (the fence was extended).
      on_failsafe = true;
      set_failsafe_answering(true);
      continue;
    }
    on_failsafe = false;
    set_failsafe_answering(false);
    // Without failsafe peers a failed keepalive stops the ports at once. With
    // them the hub answers on until the lease's (or the last promises')
    // deadline, both safe, and asks again: one lost datagram is no outage.
    if (!options_.failsafe) fence_.doubt();
    if (!doubted)
      log_warn("election: keepalive failed (%s); %s", error.c_str(),
               options_.failsafe ? "answering until the lease runs out by this hub's clock "
                                   "unless every other hub promises not to campaign"
                                 : "not answering on the ports until etcd renews the lease");
    doubted = true;
    if (!fence_.held(Clock::now())) {
      fence_.release();
      log_warn("election: the lease ran out by this hub's clock; standing by");
      set_connected(false, error);
      return false;
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
  return false;
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
