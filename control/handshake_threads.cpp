#include "control/handshake_threads.hpp"

#include <pthread.h>
#include <rte_ring.h>
#include <unistd.h>

#include "control/cpu_affinity.hpp"
#include "dataplane/messages.hpp"
#include "dataplane/packet.hpp"

namespace wghub::ctl {

namespace {

// Messages a thread takes at once: small, so that several threads share a
// burst of initiations and the proven ring is looked at often.
constexpr unsigned kBurst = 4;
// Sleep when both rings are empty: handshakes are rare next to data, and the
// threads must not spin on cores the OS also gives to others.
constexpr useconds_t kIdleSleepUs = 100;

}  // namespace

std::unique_ptr<HandshakeThreads> HandshakeThreads::start(dp::Dataplane& dp,
                                                          const HandshakeEngine& engine,
                                                          unsigned count,
                                                          const std::vector<unsigned>& cpus,
                                                          std::string& error) {
  std::unique_ptr<HandshakeThreads> t(new HandshakeThreads(dp, engine));
  for (unsigned i = 0; i < count; ++i) {
    t->threads_.emplace_back([p = t.get()] { p->run(); });
    const std::string name = "wghub-hs" + std::to_string(i);
    pthread_setname_np(t->threads_.back().native_handle(), name.c_str());
    if (!allow_cpus(t->threads_.back().native_handle(), cpus)) {
      error = "dataplane.handshake_threads: cannot set the CPUs of handshake thread " +
              std::to_string(i);
      return nullptr;  // the destructor stops the ones started
    }
  }
  return t;
}

HandshakeThreads::~HandshakeThreads() {
  stop_.store(true);
  for (std::thread& t : threads_) t.join();
  for (Job& job : done_) rte_pktmbuf_free(job.m);
}

void HandshakeThreads::run() {
  void* objs[kBurst];
  while (!stop_.load(std::memory_order_relaxed)) {
    bool proven = true;
    unsigned n = rte_ring_dequeue_burst(dp_.handshakes_proven, objs, kBurst, nullptr);
    // Under load the unproven ring is the control thread's: it answers
    // with cookie replies, no X25519.
    if (n == 0 && !dp_.under_load.load(std::memory_order_relaxed)) {
      proven = false;
      n = rte_ring_dequeue_burst(dp_.handshakes, objs, kBurst, nullptr);
    }
    if (n == 0) {
      usleep(kIdleSleepUs);
      continue;
    }
    in_flight_.fetch_add(n);
    for (unsigned i = 0; i < n; ++i) {
      Job job;
      job.m = static_cast<rte_mbuf*>(objs[i]);
      job.proven = proven;
      const dp::Classified c = dp::classify_wan(job.m, dp_.wan.local);
      const bool initiation =
          c.kind == dp::Classify::kWireGuard && c.payload_len > 0 &&
          *rte_pktmbuf_mtod_offset(job.m, const std::uint8_t*, c.payload_offset) ==
              static_cast<std::uint8_t>(dp::MessageType::kInitiation);
      if (initiation) {
        job.prepared = std::make_unique<HandshakeEngine::Prepared>();
        engine_.prepare_initiation(
            {rte_pktmbuf_mtod_offset(job.m, const std::uint8_t*, c.payload_offset), c.payload_len},
            *job.prepared);
        prepared_.fetch_add(1, std::memory_order_relaxed);
      }
      finish(std::move(job));
    }
  }
}

void HandshakeThreads::finish(Job job) {
  {
    std::lock_guard lock(mu_);
    if (done_.size() < kQueueBudget) {
      done_.push_back(std::move(job));
      return;
    }
  }
  done_queue_full_.fetch_add(1, std::memory_order_relaxed);
  rte_pktmbuf_free(job.m);
  in_flight_.fetch_sub(1);
}

std::size_t HandshakeThreads::take(std::vector<Job>& out, std::size_t max) {
  std::lock_guard lock(mu_);
  const std::size_t n = std::min(max, done_.size());
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(std::move(done_.front()));
    done_.pop_front();
  }
  in_flight_.fetch_sub(n);
  return n;
}

HandshakeThreads::Counters HandshakeThreads::counters() const {
  return {prepared_.load(std::memory_order_relaxed),
          done_queue_full_.load(std::memory_order_relaxed)};
}

}  // namespace wghub::ctl
