// Leader election and fencing against a real etcd (control/election.hpp),
// run by election_test.sh, which starts etcd and passes its URL and pid.
// Two hubs' elections (hub-a, hub-b) campaign for one key; a monitor thread
// samples both fences every millisecond for the whole run and fails the test
// if it ever sees both answering. Scenarios, each asserted:
//   1. one of two is elected;
//   2. a clean stop (lease revoked): the other takes over;
//   3. a crash (lease abandoned, not revoked): the other takes over after
//      the lease expires, and not before the crashed one's fence closed;
//   4. etcd frozen (SIGSTOP): the active hub's fence closes by its own clock
//      before the lease could expire; etcd back (SIGCONT): one active again.
//   5. failsafe mode (control/failsafe.hpp), both hubs asking each other over
//      loopback UDP: etcd frozen, the active hub answers on for 5 s on the
//      standby's promises, the standby never; etcd back: one active again;
//   6. failsafe mode with the standby gone (crashed): etcd frozen, nobody
//      promises, so the active hub fences itself as in 4.
// Timings are printed, never asserted.
#include <signal.h>
#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "control/election.hpp"

using namespace std::chrono_literals;
using wghub::ctl::Election;
using wghub::ctl::ElectionOptions;
using wghub::ctl::EtcdClient;
using wghub::ctl::EtcdOptions;
using Clock = std::chrono::steady_clock;

namespace {

std::string g_url;
std::mutex g_mutex;  // guards the two slots against the monitor
std::unique_ptr<Election> g_hub[2];
std::atomic<bool> g_both{false};
std::atomic<bool> g_stop{false};

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "election_etcd: FAIL: %s\n", why.c_str());
  std::exit(1);
}

const char* kFailsafeAddr[2] = {"127.0.0.1:51901", "127.0.0.1:51902"};

// failsafe: each hub answers promise requests on its kFailsafeAddr and asks
// the other's.
void start(int i, bool failsafe = false) {
  EtcdOptions o;
  o.endpoints = {g_url};
  ElectionOptions eo{"/ha2test/leader", i == 0 ? "hub-a" : "hub-b", 2s, "", nullptr};
  if (failsafe) {
    wghub::ctl::FailsafeOptions fo;
    fo.listen = *wghub::config::Endpoint::parse(kFailsafeAddr[i]).value;
    fo.peers = {*wghub::config::Endpoint::parse(kFailsafeAddr[1 - i]).value};
    fo.node = eo.node;
    fo.ttl = 2s;
    std::array<std::uint8_t, 32> priv{};
    priv.fill(0x42);
    fo.key = wghub::ctl::FailsafeMessage::derive_key(priv);
    std::string error;
    eo.failsafe = wghub::ctl::Failsafe::open(std::move(fo), error);
    if (!eo.failsafe) fail(error);
  }
  auto e = std::make_unique<Election>(std::make_unique<EtcdClient>(o), eo);
  e->start();
  std::lock_guard lock(g_mutex);
  g_hub[i] = std::move(e);
}

// Takes the hub out of the slot (the monitor no longer sees it), then stops it.
void stop(int i, bool crash) {
  std::unique_ptr<Election> e;
  {
    std::lock_guard lock(g_mutex);
    e = std::move(g_hub[i]);
  }
  if (crash) {
    // A crash stops answering with the process; the lease is left to expire.
    e->abandon();
  }
  e.reset();
}

bool answering(int i) {
  std::lock_guard lock(g_mutex);
  return g_hub[i] && g_hub[i]->answering();
}

// Waits until exactly `who` answers (-1: anyone, exactly one); seconds taken.
double wait_active(int who, std::chrono::seconds limit, const char* what) {
  const auto t0 = Clock::now();
  while (Clock::now() - t0 < limit) {
    const bool a = answering(0), b = answering(1);
    if ((who == -1 && a != b) || (who == 0 && a && !b) || (who == 1 && b && !a))
      return std::chrono::duration<double>(Clock::now() - t0).count();
    std::this_thread::sleep_for(1ms);
  }
  fail(std::string("timed out waiting: ") + what);
}

// The longest time hub `i` did not answer during the next `d` (sampled
// every ms), in seconds; a gap still open at the end counts up to then.
double longest_gap(int i, Clock::duration d) {
  const auto t0 = Clock::now();
  Clock::duration longest{};
  Clock::time_point gap_start{};
  bool in_gap = false;
  while (Clock::now() - t0 < d) {
    const bool a = answering(i);
    if (!a && !in_gap) gap_start = Clock::now();
    if (!a) longest = std::max(longest, Clock::now() - gap_start);
    in_gap = !a;
    std::this_thread::sleep_for(1ms);
  }
  return std::chrono::duration<double>(longest).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s ETCD_URL ETCD_PID\n", argv[0]);
    return 2;
  }
  g_url = argv[1];
  const pid_t etcd_pid = static_cast<pid_t>(std::atoi(argv[2]));
  std::thread monitor([] {
    while (!g_stop) {
      std::unique_lock lock(g_mutex);
      if (g_hub[0] && g_hub[1] && g_hub[0]->answering() && g_hub[1]->answering()) g_both = true;
      lock.unlock();
      std::this_thread::sleep_for(1ms);
    }
  });

  start(0);
  wait_active(0, 10s, "hub-a elected alone");
  start(1);
  std::this_thread::sleep_for(1500ms);
  if (!answering(0) || answering(1)) fail("hub-b took over from a healthy hub-a");
  std::printf("ok: hub-a active, hub-b standby\n");

  // 2. A clean stop revokes the lease: hub-b campaigns on the DELETE.
  auto t0 = Clock::now();
  stop(0, false);
  wait_active(1, 10s, "hub-b after hub-a's clean stop");
  std::printf("election: clean stop -> other hub active %.3f s\n",
              std::chrono::duration<double>(Clock::now() - t0).count());

  // 3. A crash: the lease expires at etcd (TTL 2 s, checked every 0.5 s).
  start(0);
  std::this_thread::sleep_for(1000ms);
  if (answering(0)) fail("hub-a took over from a healthy hub-b");
  t0 = Clock::now();
  stop(1, true);
  wait_active(0, 15s, "hub-a after hub-b's crash");
  std::printf("election: crash -> other hub active %.3f s (lease TTL 2 s)\n",
              std::chrono::duration<double>(Clock::now() - t0).count());

  // 4. etcd frozen: hub-a's keepalives time out; its fence closes by its
  // own clock, within the TTL less the margin of its last renewal.
  start(1);
  std::this_thread::sleep_for(1000ms);
  if (kill(etcd_pid, SIGSTOP) != 0) fail("cannot SIGSTOP etcd");
  t0 = Clock::now();
  while (answering(0) && Clock::now() - t0 < 5s) std::this_thread::sleep_for(1ms);
  const double fenced = std::chrono::duration<double>(Clock::now() - t0).count();
  const bool still = answering(0);
  kill(etcd_pid, SIGCONT);
  if (still) fail("hub-a kept answering with etcd frozen for 5 s");
  std::printf(
      "election: etcd frozen -> active hub fenced itself %.3f s later (TTL 2 s, margin 0.5 s)\n",
      fenced);
  const double back = wait_active(-1, 20s, "one hub active after etcd came back");
  std::printf("election: etcd back -> one hub active %.3f s later (%s)\n", back,
              answering(0) ? "hub-a" : "hub-b");

  stop(0, false);
  stop(1, false);

  // 5. Failsafe mode: etcd frozen, hub-a answers on the promises of hub-b.
  start(0, true);
  wait_active(0, 10s, "hub-a elected alone (failsafe)");
  start(1, true);
  std::this_thread::sleep_for(1000ms);
  if (!answering(0) || answering(1)) fail("failsafe: hub-b took over from a healthy hub-a");
  if (kill(etcd_pid, SIGSTOP) != 0) fail("cannot SIGSTOP etcd");
  const double frozen_gap = longest_gap(0, 5s);
  const bool kept = answering(0) && !answering(1);
  wghub::ctl::ElectionStatus sa, sb;
  {
    std::lock_guard lock(g_mutex);
    sa = g_hub[0]->status();
    sb = g_hub[1]->status();
  }
  kill(etcd_pid, SIGCONT);
  if (!kept) fail("failsafe: hub-a was not answering alone 5 s after etcd froze");
  if (!sa.failsafe_answering || sa.failsafe.rounds_ok == 0 || sb.failsafe.promises_given == 0)
    fail("failsafe: hub-a is not answering on hub-b's promises");
  std::printf(
      "failsafe: etcd frozen 5 s -> hub-a answered on (%llu rounds, %llu promises from hub-b; "
      "longest gap %.3f s)\n",
      static_cast<unsigned long long>(sa.failsafe.rounds_ok),
      static_cast<unsigned long long>(sb.failsafe.promises_given), frozen_gap);
  // etcd expires the lease it could not renew; hub-a campaigns again on the
  // promises, hub-b waits for its promise to run out.
  const double back_gap = longest_gap(0, 4s);
  wait_active(-1, 20s, "one hub active after etcd came back (failsafe)");
  std::printf("failsafe: etcd back -> %s active; hub-a's longest gap in the 4 s after: %.3f s\n",
              answering(0) ? "hub-a" : "hub-b", back_gap);

  // 6. Failsafe mode, the standby crashed: nobody to promise, hub-a fences.
  const int active = answering(0) ? 0 : 1;
  stop(1 - active, true);
  std::this_thread::sleep_for(500ms);
  if (kill(etcd_pid, SIGSTOP) != 0) fail("cannot SIGSTOP etcd");
  t0 = Clock::now();
  while (answering(active) && Clock::now() - t0 < 5s) std::this_thread::sleep_for(1ms);
  const double alone = std::chrono::duration<double>(Clock::now() - t0).count();
  const bool still_alone = answering(active);
  kill(etcd_pid, SIGCONT);
  if (still_alone) fail("failsafe: the active hub answered on with etcd frozen and no promise");
  std::printf("failsafe: etcd frozen, no other hub to promise -> fenced %.3f s later\n", alone);
  stop(active, false);
  g_stop = true;
  monitor.join();
  if (g_both) fail("the monitor saw both hubs answering at once");
  std::printf("ok: never two answering (sampled every ms)\n");
  return 0;
}
