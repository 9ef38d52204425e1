// RCU deferred free: an item retired while a reader may still hold it is freed
// only after that reader reports a quiescent state (or goes offline). Each step
// is sequenced with flags between the threads, never with sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "dataplane/fib.hpp"
#include "dataplane/rcu.hpp"

namespace wghub::dp {
namespace {

// A reader thread driven step by step from the test.
class SteppedReader {
 public:
  SteppedReader(Rcu& rcu, unsigned id) : rcu_(rcu), id_(id) {
    thread_ = std::thread([this] { run(); });
    wait_for(1);  // online
  }
  ~SteppedReader() {
    command(kExit);
    thread_.join();
  }
  void report_quiescent() { command(kQuiescent); }
  void go_offline() { command(kOffline); }
  void go_online() { command(kOnline); }

 private:
  enum Command { kNone, kQuiescent, kOffline, kOnline, kExit };

  void command(Command c) {
    const uint64_t target = done_.load() + 1;
    cmd_.store(c);
    wait_for(target);
  }
  void wait_for(uint64_t n) {
    while (done_.load() < n) std::this_thread::yield();
  }
  void run() {
    rcu_.online(id_);
    done_.fetch_add(1);
    for (;;) {
      const Command c = cmd_.exchange(kNone);
      if (c == kNone) {
        std::this_thread::yield();
        continue;
      }
      if (c == kQuiescent) rcu_.quiescent(id_);
      if (c == kOffline) rcu_.offline(id_);
      if (c == kOnline) rcu_.online(id_);
      if (c == kExit) rcu_.offline(id_);
      done_.fetch_add(1);
      if (c == kExit) return;
    }
  }

  Rcu& rcu_;
  unsigned id_;
  std::atomic<Command> cmd_{kNone};
  std::atomic<uint64_t> done_{0};
  std::thread thread_;
};

TEST(Rcu, InitAndRegistrationBounds) {
  Rcu rcu;
  EXPECT_FALSE(rcu.initialized());
  EXPECT_FALSE(rcu.register_thread(0));
  EXPECT_FALSE(rcu.init(0));
  ASSERT_TRUE(rcu.init(2));
  EXPECT_FALSE(rcu.init(2));  // once
  EXPECT_TRUE(rcu.initialized());
  EXPECT_NE(rcu.raw(), nullptr);
  EXPECT_TRUE(rcu.register_thread(1));
  EXPECT_FALSE(rcu.register_thread(2));
  EXPECT_TRUE(rcu.unregister_thread(1));
  rcu.synchronize();  // nobody registered: returns
}

TEST(DeferredFree, WaitsForAReaderHoldingThePointer) {
  Rcu rcu;
  ASSERT_TRUE(rcu.init(2));
  ASSERT_TRUE(rcu.register_thread(0));
  ASSERT_TRUE(rcu.register_thread(1));
  int freed = 0;
  {
    DeferredFree deferred(rcu);
    SteppedReader a(rcu, 0);
    SteppedReader b(rcu, 1);

    // Both readers are inside a read-side section (online, no report since).
    int* object = new int(42);
    deferred.retire(object, [&freed](int* p) {
      delete p;
      ++freed;
    });
    EXPECT_EQ(deferred.reclaim(), 0u);
    EXPECT_EQ(freed, 0);
    EXPECT_EQ(deferred.pending(), 1u);

    a.report_quiescent();
    EXPECT_EQ(deferred.reclaim(), 0u);  // b may still hold it
    EXPECT_EQ(freed, 0);

    b.report_quiescent();
    EXPECT_EQ(deferred.reclaim(), 1u);
    EXPECT_EQ(freed, 1);
    EXPECT_EQ(deferred.pending(), 0u);

    // An offline reader holds nothing and is not waited for.
    deferred.retire([&freed] { ++freed; });
    a.report_quiescent();
    EXPECT_EQ(deferred.reclaim(), 0u);
    b.go_offline();
    EXPECT_EQ(deferred.reclaim(), 1u);
    EXPECT_EQ(freed, 2);

    // Items are freed in order, each after its own grace period.
    std::vector<int> order;
    b.go_online();
    deferred.retire([&order] { order.push_back(1); });
    a.report_quiescent();
    b.report_quiescent();
    deferred.retire([&order] { order.push_back(2); });
    EXPECT_EQ(deferred.reclaim(), 1u);
    EXPECT_EQ(order, std::vector<int>{1});
    a.report_quiescent();
    b.report_quiescent();
    EXPECT_EQ(deferred.reclaim(), 1u);
    EXPECT_EQ(order, (std::vector<int>{1, 2}));

    // Whatever is pending at destruction is freed after a grace period (the
    // readers exit first here: offline, so the wait ends).
    deferred.retire([&freed] { ++freed; });
  }
  EXPECT_EQ(freed, 3);
}

TEST(DeferredFree, DrainWaitsForABusyReader) {
  Rcu rcu;
  ASSERT_TRUE(rcu.init(1));
  ASSERT_TRUE(rcu.register_thread(0));
  std::atomic<bool> stop{false};
  std::atomic<int> in_use{0};
  std::atomic<bool> freed{false};
  std::atomic<bool> reader_saw_freed{false};
  std::atomic<int*> shared{new int(7)};
  std::thread reader([&] {
    rcu.online(0);
    while (!stop.load()) {
      int* p = shared.load(std::memory_order_acquire);
      if (p != nullptr) {
        in_use.fetch_add(1);
        if (freed.load()) reader_saw_freed.store(true);  // used after free
        in_use.fetch_sub(1);
      }
      rcu.quiescent(0);
    }
    rcu.offline(0);
  });
  DeferredFree deferred(rcu);
  int* old = shared.exchange(nullptr);
  deferred.retire(old, [&](int* p) {
    freed.store(true);
    delete p;
  });
  EXPECT_EQ(deferred.drain(), 1u);
  EXPECT_TRUE(freed.load());
  stop.store(true);
  reader.join();
  EXPECT_FALSE(reader_saw_freed.load());
}

TEST(DeferredFree, WithoutRcuFreesAtOnce) {
  Rcu none;
  DeferredFree deferred(none);
  int freed = 0;
  deferred.retire([&freed] { ++freed; });
  EXPECT_EQ(freed, 1);
  EXPECT_EQ(deferred.pending(), 0u);
}

TEST(LanGateways, IdIsNotReusedBeforeTheGracePeriod) {
  Rcu rcu;
  ASSERT_TRUE(rcu.init(1));
  ASSERT_TRUE(rcu.register_thread(0));
  DeferredFree deferred(rcu);
  FibConfig config;
  config.name = "rcu_gw";
  std::string error;
  auto fib = Fib::create(config, &rcu, error);
  ASSERT_NE(fib, nullptr) << error;
  LanGateways gateways(1);
  SteppedReader reader(rcu, 0);
  const auto id = gateways.acquire(0xc0a80101u);
  ASSERT_TRUE(id.has_value());
  ASSERT_TRUE(gateways.release(*id, *fib, deferred));
  // The reader may have looked up a route carrying id: it must still read the
  // old address, so the id cannot go to a new gateway yet.
  EXPECT_FALSE(gateways.acquire(0xc0a80102u).has_value());
  EXPECT_EQ(gateways.address(*id), 0xc0a80101u);
  reader.report_quiescent();
  EXPECT_EQ(deferred.reclaim(), 1u);
  const auto again = gateways.acquire(0xc0a80102u);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(gateways.address(*again), 0xc0a80102u);
}

}  // namespace
}  // namespace wghub::dp
