// The hub as an object: built on net_ring ports, torn down, built again in
// the same process (every pipeline test relies on that).
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "tests/pipeline/pipeline_test.hpp"

namespace wghub::pipeline {
namespace {

TEST(HubLifecycle, BuildsOnRingPortsAndTearsDownTwice) {
  for (int i = 0; i < 2; ++i) {
    Harness h;
    ASSERT_TRUE(h.ok()) << h.error();
    EXPECT_EQ(h.hub().dataplane().worker_stats.size(), 1u);
    EXPECT_EQ(h.hub().device().peers().size(), 2u);
    EXPECT_EQ(h.hub().dataplane().wan.port.rx_queues, 1u);
    EXPECT_EQ(h.hub().dataplane().wan.port.tx_queues, 2u);
    h.run();  // nothing configured speaks first: nothing moves
    EXPECT_TRUE(h.take_wan().empty());
    EXPECT_TRUE(h.take_lan().empty());
  }
}

// Regression (found by this tier, fixed): Hub::create registers each worker with RCU and puts it
// online (control/hub.cpp: d.rcu->online(i)); only Worker::run() takes it offline. A hub whose
// workers never ran Worker::run() to its end -- stepped with poll_workers_once() as here, or never
// launched because launch_workers() failed on a later lcore (run_hub then destroys the hub)
// -- hangs for ever in ~Hub: ~Device -> DeferredFree::drain() ->
// Rcu::synchronize() waits for a quiescent state from a thread that will
// never report one. Fix: in Hub::~Hub, after stop_workers(), take every
// worker's RCU thread offline (rcu->offline(i); harmless when already
// offline) before destroying the device. The harness works around it.
// A hang cannot fail by itself, so a watchdog turns it into a failure (the
// process exits: the hung thread cannot be stopped).
TEST(HubLifecycle, DestroyWithoutLaunchedWorkers) {
  Harness h;
  ASSERT_TRUE(h.ok()) << h.error();
  SimPeer& a = h.peer("site-a");
  ASSERT_TRUE(h.establish(a));  // a keypair to retire on the way down

  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  std::thread destroyer([&] {
    h.destroy_hub();
    std::lock_guard lock(mutex);
    done = true;
    cv.notify_all();
  });
  std::unique_lock lock(mutex);
  if (!cv.wait_for(lock, std::chrono::seconds(30), [&] { return done; })) {
    std::fprintf(stderr,
                 "FAILED: ~Hub did not return: it waits for an RCU grace period that the "
                 "never-launched worker cannot end\n");
    std::fflush(stderr);
    std::_Exit(1);
  }
  lock.unlock();
  destroyer.join();
}

// The SIGUSR1 dump is printed in one control poll: it lists the first 1000
// peers and counts the rest (wg show lists them all, a slice per poll).
TEST_F(PipelineTest, TheStatusDumpListsAThousandPeersAndCountsTheRest) {
  HarnessOptions o;
  o.generated_peers = 1100;  // after sites A and B
  rebuild(o);
  fflush(stdout);
  ::testing::internal::CaptureStdout();
  h().hub().control().print_status(true);
  fflush(stdout);
  const std::string out = ::testing::internal::GetCapturedStdout();
  std::size_t peer_lines = 0;
  for (std::size_t at = 0; (at = out.find("  peer ", at)) != std::string::npos; ++at) ++peer_lines;
  EXPECT_EQ(peer_lines, 1000u);
  EXPECT_NE(out.find("... and 102 more peer(s): wg show lists them all"), std::string::npos);
  EXPECT_NE(out.find("status: peers 0/1102 live"), std::string::npos);
}

}  // namespace
}  // namespace wghub::pipeline
