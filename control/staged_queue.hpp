// The per-peer queue of packets waiting for a session (device_staged.cpp).
#pragma once

#include <rte_mbuf.h>

#include <cstddef>
#include <deque>
#include <memory>

namespace wghub::ctl {

// A peer's packets waiting for a session, oldest first. std::deque
// allocates ~600 bytes even when empty, and on a hub with 10^5 peers almost
// every queue is empty: this one allocates its deque on the first packet and
// frees it when drained.
class StagedQueue {
 public:
  bool empty() const { return q_ == nullptr || q_->empty(); }
  std::size_t size() const { return q_ == nullptr ? 0 : q_->size(); }
  void push_back(rte_mbuf* m) {
    if (q_ == nullptr) q_ = std::make_unique<std::deque<rte_mbuf*>>();
    q_->push_back(m);
  }
  rte_mbuf* front() const { return q_->front(); }  // not empty()
  void pop_front() {
    q_->pop_front();
    if (q_->empty()) q_.reset();
  }
  void clear() { q_.reset(); }  // the caller freed the packets
  template <typename F>
  void for_each(F&& f) const {
    if (q_ != nullptr)
      for (rte_mbuf* m : *q_) f(m);
  }

 private:
  std::unique_ptr<std::deque<rte_mbuf*>> q_;
};

}  // namespace wghub::ctl
