// See disposer.hpp.
#include "control/disposer.hpp"

#include "control/cpu_affinity.hpp"

#include <utility>

namespace wghub::ctl {

Disposer::Disposer() : thread_([this] { run(); }) {}

Disposer::~Disposer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Disposer::dispose(std::shared_ptr<const void> object) {
  if (object == nullptr) return;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(object));
  }
  wake_.notify_one();
}

void Disposer::drain() {
  std::unique_lock lock(mutex_);
  drained_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void Disposer::run() {
  lower_this_thread();  // below the control thread (cpu_affinity.hpp)
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_, and nothing left
    std::vector<std::shared_ptr<const void>> batch;
    batch.swap(queue_);
    busy_ = true;
    lock.unlock();
    batch.clear();  // the frees, outside the lock
    lock.lock();
    busy_ = false;
    drained_.notify_all();
  }
}

}  // namespace wghub::ctl
