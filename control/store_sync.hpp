// Keeps the hub's view of the store current (docs/ha.md). A thread reads
// the whole prefix, then watches it; after every change it publishes the
// prefix as a new immutable StoreSnapshot. The control thread takes the
// newest one (take(), a pointer swap under a mutex only these two take) and
// hands it to the reloader, which parses, diffs and applies it like a
// SIGHUP reload. Snapshots published faster than they are applied coalesce:
// only the newest is taken.
//
// A quiet watch is probed every 5 s (etcd_client.hpp): a hung member or a
// partition that drops packets counts as lost within seconds.
//
// Losing etcd publishes nothing: the hub keeps forwarding with the peers it
// has, and no peer is removed because the store is gone. The thread retries
// (250 ms, doubling to 2 s) and, once etcd answers again, reads the whole
// prefix and publishes it: the diff against the running state catches up
// with whatever changed meanwhile (a full resync, also after a compaction).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/store_peers.hpp"
#include "control/etcd_client.hpp"

namespace wghub::ctl {

struct StoreStatus {
  bool connected = false;
  std::int64_t revision_seen = 0;      // the newest revision published
  std::uint64_t reconnects = 0;        // times etcd was lost and found again
  std::int64_t last_contact_unix = 0;  // the last time etcd answered (a read or a watch event)
};

class StoreSync {
 public:
  StoreSync(std::unique_ptr<EtcdClient> client, std::string prefix);
  ~StoreSync();  // stops and joins the thread
  StoreSync(const StoreSync&) = delete;
  StoreSync& operator=(const StoreSync&) = delete;

  void start();
  // The newest snapshot not taken yet (null: nothing new), and when the
  // thread received it (for the store lag metric).
  std::shared_ptr<const config::StoreSnapshot> take(
      std::chrono::steady_clock::time_point* received = nullptr);
  StoreStatus status() const;

 private:
  void run();
  void publish(std::shared_ptr<const config::StoreSnapshot> snap);
  void wait(std::chrono::milliseconds d);
  void set_connected(bool connected, const std::string& why);

  std::unique_ptr<EtcdClient> client_;
  std::string prefix_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> fresh_{false};  // latest_ is set: take() skips the mutex otherwise
  mutable std::mutex mutex_;        // guards the fields below
  std::condition_variable wake_;
  std::shared_ptr<const config::StoreSnapshot> latest_;
  std::chrono::steady_clock::time_point received_;
  StoreStatus status_;
  bool ever_connected_ = false;
};

}  // namespace wghub::ctl
