// Rcu and DeferredFree: see rcu.hpp for the reader/writer protocol.
#include "dataplane/rcu.hpp"

#include <sched.h>

#include <cstdlib>
#include <cstring>

namespace wghub::dp {

Rcu::~Rcu() {
  std::free(v_);
}

bool Rcu::init(unsigned max_threads) {
  if (v_ != nullptr || max_threads == 0) return false;
  const std::size_t size = rte_rcu_qsbr_get_memsize(max_threads);
  if (size == 0 || size == static_cast<std::size_t>(-1)) return false;
  // get_memsize rounds up to a cache line, as aligned_alloc requires.
  void* mem = std::aligned_alloc(RTE_CACHE_LINE_SIZE, size);
  if (mem == nullptr) return false;
  std::memset(mem, 0, size);
  auto* v = static_cast<rte_rcu_qsbr*>(mem);
  if (rte_rcu_qsbr_init(v, max_threads) != 0) {
    std::free(mem);
    return false;
  }
  v_ = v;
  max_threads_ = max_threads;
  return true;
}

bool Rcu::register_thread(unsigned id) {
  return v_ != nullptr && id < max_threads_ && rte_rcu_qsbr_thread_register(v_, id) == 0;
}

bool Rcu::unregister_thread(unsigned id) {
  return v_ != nullptr && id < max_threads_ && rte_rcu_qsbr_thread_unregister(v_, id) == 0;
}

void Rcu::synchronize() {
  const uint64_t token = start();
  while (!check(token)) sched_yield();
}

void DeferredFree::retire(std::function<void()> free_fn) {
  if (!rcu_.initialized()) {
    free_fn();
    return;
  }
  // The token's store-release orders the caller's unpublish before it.
  items_.push_back(Item{rcu_.start(), std::move(free_fn)});
}

std::size_t DeferredFree::reclaim() {
  std::size_t freed = 0;
  while (!items_.empty() && rcu_.check(items_.front().token)) {
    auto fn = std::move(items_.front().free_fn);
    items_.pop_front();
    fn();
    ++freed;
  }
  return freed;
}

std::size_t DeferredFree::drain() {
  if (items_.empty()) return 0;
  // Every pending token is <= the newest; waiting for that one covers all.
  rcu_.synchronize();
  std::size_t freed = 0;
  while (!items_.empty()) {
    auto fn = std::move(items_.front().free_fn);
    items_.pop_front();
    fn();
    ++freed;
  }
  return freed;
}

}  // namespace wghub::dp
