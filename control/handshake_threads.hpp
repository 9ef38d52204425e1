// Handshake threads (dataplane.handshake_threads): take the responder's
// X25519s off the control thread and run them on several cores.
//
// Each thread drains the two handshake rings the workers fill (the proven
// ring first, as the control thread does), runs
// HandshakeEngine::prepare_initiation() on every initiation, and hands the
// message with what it prepared to the control thread on one bounded queue.
// The control thread completes each (complete_initiation: replay and flood
// checks against the peer, session index, response, keypair), which costs a
// few thousand cycles against the ~4 X25519 the threads did. Responses and
// cookie replies pass through unprepared: the hub answers few of those.
// Under load the threads leave the unproven ring alone: the control thread
// answers what is queued there with cookie replies, as it does without
// threads, and the threads serve the proven ring.
//
// With 0 threads the control thread reads the rings itself and receive()
// prepares and completes inline: the same two steps.
#pragma once

#include <rte_mbuf.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "control/handshake_engine.hpp"
#include "dataplane/context.hpp"

namespace wghub::ctl {

class HandshakeThreads {
 public:
  // One message a thread is done with.
  struct Job {
    rte_mbuf* m = nullptr;
    bool proven = false;
    std::unique_ptr<HandshakeEngine::Prepared> prepared;  // initiations only
  };
  // Jobs waiting for the control thread; more are dropped (done_queue_full).
  static constexpr std::size_t kQueueBudget = 1024;

  // Starts `count` threads, each allowed on every CPU in `cpus` (empty: the
  // creator's; cpu_affinity.hpp). The engine must outlive them.
  static std::unique_ptr<HandshakeThreads> start(dp::Dataplane& dp, const HandshakeEngine& engine,
                                                 unsigned count, const std::vector<unsigned>& cpus,
                                                 std::string& error);
  // Stops and joins the threads, and frees what they left queued.
  ~HandshakeThreads();
  HandshakeThreads(const HandshakeThreads&) = delete;
  HandshakeThreads& operator=(const HandshakeThreads&) = delete;

  unsigned count() const { return static_cast<unsigned>(threads_.size()); }
  // Messages taken from the rings and not yet taken by the control thread.
  std::size_t in_flight() const { return in_flight_.load(); }
  // Control thread: moves up to `max` finished jobs to the end of `out`.
  std::size_t take(std::vector<Job>& out, std::size_t max);

  struct Counters {
    std::uint64_t prepared = 0;         // initiations the threads ran the crypto of
    std::uint64_t done_queue_full = 0;  // messages dropped: the control thread fell behind
  };
  Counters counters() const;

 private:
  HandshakeThreads(dp::Dataplane& dp, const HandshakeEngine& engine) : dp_(dp), engine_(engine) {}
  void run();
  void finish(Job job);

  dp::Dataplane& dp_;
  const HandshakeEngine& engine_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> prepared_{0};
  std::atomic<std::uint64_t> done_queue_full_{0};
  std::atomic<std::size_t> in_flight_{0};
  std::mutex mu_;  // over done_
  std::deque<Job> done_;
  std::vector<std::thread> threads_;
};

}  // namespace wghub::ctl
