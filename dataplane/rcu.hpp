// RCU for the tables the control thread publishes to the workers (FIB, keypair
// table, peer table): a thin wrapper over DPDK's quiescent-state-based
// reclamation (rte_rcu_qsbr), plus a deferred-free list for the control thread.
//
// The model (DESIGN.md): the control thread is the only writer; worker lcores
// read lock-free. A worker reports a quiescent state once per loop iteration,
// at a point where it holds no pointer into any published table. Anything a
// worker may still hold (an unpublished keypair, a freed tbl8 group, a peer slot
// about to be reused) is freed only after every online worker has reported once
// since it was unpublished: a grace period.
//
//   worker (thread id w):    rcu.register_thread(w); rcu.online(w);
//                            loop { ...read tables...; rcu.quiescent(w); }
//                            rcu.offline(w);   // before blocking or exiting
//   control:                 unpublish(p); deferred.retire(p, deleter);
//                            ... later, each timer tick: deferred.reclaim();
//
// An offline worker is not waited for, so a worker must go offline before it
// sleeps or stops, and must not touch published tables while offline.
//
// synchronize() and check() are built from the header-inline rte_rcu_qsbr_start
// and rte_rcu_qsbr_check (not the out-of-line rte_rcu_qsbr_synchronize) so the
// acquire/release pairs are in instrumented code and ThreadSanitizer sees the
// happens-before edge between a reader's last use and the free.
#pragma once

#include <rte_rcu_qsbr.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <utility>

namespace wghub::dp {

class Rcu {
 public:
  Rcu() = default;
  ~Rcu();
  Rcu(const Rcu&) = delete;
  Rcu& operator=(const Rcu&) = delete;

  // Allocates the QS variable for thread ids 0..max_threads-1 (worker index or
  // lcore id: the caller's choice, used consistently). Plain aligned heap memory:
  // works before or without EAL. False if max_threads is 0 or memory is short.
  bool init(unsigned max_threads);
  bool initialized() const { return v_ != nullptr; }
  unsigned max_threads() const { return max_threads_; }

  // Control thread, before the worker starts / after it stopped. False if id is
  // out of range.
  bool register_thread(unsigned id);
  bool unregister_thread(unsigned id);

  // Worker thread: online before its first read, offline before it blocks or
  // exits. A registered thread starts offline.
  void online(unsigned id) { rte_rcu_qsbr_thread_online(v_, id); }
  void offline(unsigned id) { rte_rcu_qsbr_thread_offline(v_, id); }

  // Worker thread, once per loop iteration, holding no table pointers.
  void quiescent(unsigned id) { rte_rcu_qsbr_quiescent(v_, id); }

  // Control thread: starts a grace period; everything unpublished before this
  // call is unreachable for readers once check(token) is true.
  uint64_t start() { return rte_rcu_qsbr_start(v_); }
  // Control thread: non-blocking "has the grace period of token ended".
  bool check(uint64_t token) { return rte_rcu_qsbr_check(v_, token, false) == 1; }
  // Control thread (never a registered worker): blocks until a full grace
  // period has passed. Bounded by one loop iteration of the slowest online
  // worker. Yields while it waits (rte_rcu_qsbr_check's own wait spins), so
  // a control thread sharing a core with a worker lets that worker run.
  void synchronize();

  rte_rcu_qsbr* raw() { return v_; }

 private:
  rte_rcu_qsbr* v_ = nullptr;
  unsigned max_threads_ = 0;
};

// Retired items waiting for their grace period. Control thread only (not
// thread-safe). Items are freed in retirement order, each once the grace period
// that began at its retire() has ended. Without an initialised Rcu there are no
// readers to wait for and retire() frees at once.
class DeferredFree {
 public:
  explicit DeferredFree(Rcu& rcu) : rcu_(rcu) {}
  // Waits for a grace period and frees everything still pending: the Rcu and
  // the workers' registrations must outlive this object.
  ~DeferredFree() { drain(); }
  DeferredFree(const DeferredFree&) = delete;
  DeferredFree& operator=(const DeferredFree&) = delete;

  // `free_fn` runs after a grace period (from reclaim() or drain()).
  void retire(std::function<void()> free_fn);
  // Convenience: deleter(p) after a grace period.
  template <typename T, typename Deleter>
  void retire(T* p, Deleter deleter) {
    retire([p, d = std::move(deleter)]() mutable { d(p); });
  }

  // Non-blocking: frees every item whose grace period has ended. Returns how
  // many were freed. Call it from the control loop's periodic tick.
  std::size_t reclaim();
  // Blocking: one grace period, then frees everything pending.
  std::size_t drain();

  std::size_t pending() const { return items_.size(); }

 private:
  struct Item {
    uint64_t token;
    std::function<void()> free_fn;
  };
  Rcu& rcu_;
  std::deque<Item> items_;  // tokens ascend front to back
};

}  // namespace wghub::dp
