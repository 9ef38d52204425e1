// control/disposer.hpp: what the control thread drops dies on the
// disposer's thread, in order, and the destructor frees what is queued.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "control/disposer.hpp"

namespace wghub::ctl {
namespace {

struct Recorder {
  std::mutex mutex;
  std::vector<int> order;
  std::vector<std::thread::id> threads;
};

struct Tracked {
  Tracked(Recorder& r, int id) : r(r), id(id) {}
  ~Tracked() {
    std::lock_guard lock(r.mutex);
    r.order.push_back(id);
    r.threads.push_back(std::this_thread::get_id());
  }
  Recorder& r;
  int id;
};

TEST(Disposer, FreesOnItsOwnThreadInOrder) {
  Recorder r;
  Disposer d;
  for (int i = 0; i < 100; ++i) d.dispose(std::make_shared<const Tracked>(r, i));
  d.dispose(nullptr);
  d.drain();
  std::lock_guard lock(r.mutex);
  ASSERT_EQ(r.order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(r.order[i], i);
  for (const auto& t : r.threads) EXPECT_NE(t, std::this_thread::get_id());
}

TEST(Disposer, AnObjectStillHeldElsewhereLivesOn) {
  Recorder r;
  Disposer d;
  auto kept = std::make_shared<const Tracked>(r, 7);
  d.dispose(kept);
  d.drain();
  {
    std::lock_guard lock(r.mutex);
    EXPECT_TRUE(r.order.empty());
  }
  kept.reset();  // the last reference: freed here
  std::lock_guard lock(r.mutex);
  ASSERT_EQ(r.order.size(), 1u);
  EXPECT_EQ(r.threads[0], std::this_thread::get_id());
}

TEST(Disposer, DestructorFreesWhatIsQueued) {
  Recorder r;
  {
    Disposer d;
    for (int i = 0; i < 1000; ++i) d.dispose(std::make_shared<const Tracked>(r, i));
  }
  std::lock_guard lock(r.mutex);
  EXPECT_EQ(r.order.size(), 1000u);
}

}  // namespace
}  // namespace wghub::ctl
