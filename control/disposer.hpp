// Frees objects on a thread of its own. What the control thread drops can be
// large: a metrics snapshot of 2^20 peers is 2^20 shared_ptr releases, each
// likely a cache miss on its own control block, and handshakes, keepalives
// and the wg(8) socket wait behind whatever the control thread does. (The
// long control polls at 2^20 peers are not these frees: they remained with
// this in place; docs/perf.md, "The two 2^20 findings".) dispose() takes
// the mutex for one push_back; the thread frees in order.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace wghub::ctl {

class Disposer {
 public:
  Disposer();
  // Frees what is still queued, then joins.
  ~Disposer();
  Disposer(const Disposer&) = delete;
  Disposer& operator=(const Disposer&) = delete;

  // Drops this reference on the disposer's thread (the object dies there if
  // it was the last one). nullptr is ignored.
  void dispose(std::shared_ptr<const void> object);
  // Returns once everything disposed so far is freed (tests).
  void drain();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_, drained_;
  std::vector<std::shared_ptr<const void>> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace wghub::ctl
