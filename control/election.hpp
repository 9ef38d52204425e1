// Who is active among hubs that share a WAN service address (docs/ha.md).
// Each hub campaigns for one etcd key (store.leader_key) with a lease of
// store.lease_ttl seconds: a transaction creates the key, holding the hub's
// node name and attached to its lease, only if the key does not exist. The
// winner keeps the lease alive every TTL/3; the others watch the key and
// campaign again the moment it is deleted (the lease expired or was revoked).
//
// Fencing: the data plane answers on the WAN only while `answering(now)`,
// which the election thread sets from the lease as this hub's own monotonic
// clock sees it: until (when the last renewal was *sent*) + TTL - margin. etcd
// starts the TTL when it *receives* the request, so the hub stops before etcd
// could expire the lease and grant the key to another hub; a failed keepalive
// stops it at once. The control thread reads answering(now) every poll, so a
// hub whose election thread is stuck in a call still stops in time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "control/etcd_client.hpp"
#include "control/failsafe.hpp"

namespace wghub::ctl {

// The fence of one lease (no etcd here: tests drive it with their own times).
// The election thread writes, any thread reads answering().
class LeaseFence {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LeaseFence(std::chrono::milliseconds margin) : margin_(margin) {}

  // A grant or keepalive sent at `sent` was answered with `ttl`: etcd holds
  // the lease until at least sent + ttl. Answering until that, less the margin.
  void renewed(Clock::time_point sent, std::chrono::seconds ttl);
  // A keepalive failed: stop answering now; the lease may still be ours
  // (held()) until the deadline.
  void doubt();
  // Every other hub promised not to campaign (failsafe.hpp) in a round sent
  // at `sent`: answering until sent + ttl - margin, if that is later.
  void promised(Clock::time_point sent, std::chrono::milliseconds ttl);
  // Not holding the lease (lost, revoked, never had it).
  void release();
  // The lease may still be ours by this hub's clock.
  bool held(Clock::time_point now) const { return holding_ && now < deadline_; }
  bool answering(Clock::time_point now) const {
    return now.time_since_epoch().count() < answer_until_.load(std::memory_order_acquire);
  }
  std::chrono::milliseconds margin() const { return margin_; }

 private:
  std::chrono::milliseconds margin_;
  std::atomic<Clock::rep> answer_until_{0};  // steady clock ticks; 0: not answering
  Clock::time_point deadline_{};             // election thread only
  bool holding_ = false;
};

struct ElectionOptions {
  std::string key;   // store.leader_key
  std::string node;  // store.node_name (or the host name)
  std::chrono::seconds ttl{2};
  // Where the active hub publishes its peers' endpoints (name -> "ip:port");
  // default: the leader key's parent + "endpoints/".
  std::string endpoints_prefix;
  // Failsafe mode (failsafe.hpp): the other hubs' promises keep this hub
  // answering while etcd is unreachable. Null: fence when the lease cannot
  // be renewed.
  std::shared_ptr<Failsafe> failsafe;
};

struct ElectionStatus {
  bool connected = false;
  std::string leader;                // the leader key's holder as last seen ("" unknown/none)
  std::uint64_t leader_changes = 0;  // times the holder seen changed to another hub
  std::uint64_t keepalive_failures = 0;
  std::uint64_t endpoints_published = 0;  // endpoint keys written to etcd
  bool failsafe_enabled = false;
  bool failsafe_answering = false;  // answering on the other hubs' promises now
  FailsafeStatus failsafe;
};

// What the control thread asks of an election (tests drive a fake).
class RoleSource {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~RoleSource() = default;
  virtual bool answering(Clock::time_point now = Clock::now()) const = 0;
  virtual ElectionStatus status() const = 0;
  virtual const std::string& node() const = 0;
  // Takeover handshakes (docs/ha.md). Peers' endpoints as the active hub
  // sees them, name -> "ip:port", changes only: written to etcd in batches.
  virtual void publish_endpoints(std::vector<std::pair<std::string, std::string>> changed) {
    (void)changed;
  }
  // Once, after winning: the endpoints the previous active hub published.
  virtual std::vector<std::pair<std::string, std::string>> take_endpoints() { return {}; }
};

class Election : public RoleSource {
 public:
  Election(std::unique_ptr<EtcdClient> client, ElectionOptions options);
  // Stops answering, revokes a held lease (a standby takes over at once),
  // joins the thread.
  ~Election() override;
  Election(const Election&) = delete;
  Election& operator=(const Election&) = delete;

  void start();
  // Stops without revoking, as a crash would (tests of the expiry path).
  void abandon();
  bool answering(Clock::time_point now = Clock::now()) const override {
    return fence_.answering(now);
  }
  ElectionStatus status() const override;
  const std::string& node() const override { return options_.node; }
  void publish_endpoints(std::vector<std::pair<std::string, std::string>> changed) override;
  std::vector<std::pair<std::string, std::string>> take_endpoints() override;
  // The fence margin for a TTL: max(500 ms, TTL/4).
  static std::chrono::milliseconds margin_for(std::chrono::seconds ttl);
  // Where the peers' endpoints go by default: the leader key's parent +
  // "endpoints/" (/wghub/leader -> /wghub/endpoints/).
  static std::string endpoints_prefix_for(const std::string& leader_key);

 private:
  void run();
  // Returns when the lease is lost or on stop; true when it is lost but this
  // hub answers on the other hubs' promises: campaign again at once.
  bool hold(std::int64_t lease);
  // A failsafe round; true (and the fence extended) when all promised.
  bool failsafe_round();
  void set_failsafe_answering(bool on);
  void stand_by(std::int64_t revision);
  void observe_leader(const std::string& holder);
  void set_connected(bool connected, const std::string& why);
  bool connected() const;
  void wait_for(std::chrono::milliseconds d);
  void read_endpoints();
  void write_endpoints();

  std::unique_ptr<EtcdClient> client_;
  ElectionOptions options_;
  LeaseFence fence_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> revoke_on_stop_{true};
  std::atomic<bool> leave_watch_{false};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  ElectionStatus status_;
  std::vector<std::pair<std::string, std::string>> to_publish_;  // guarded by mutex_
  std::vector<std::pair<std::string, std::string>> taken_over_;  // guarded by mutex_
};

}  // namespace wghub::ctl
