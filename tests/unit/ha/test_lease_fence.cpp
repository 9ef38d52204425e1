// The lease fence (control/election.hpp): when a hub may answer on the WAN,
// by its own monotonic clock, from when its grants and keepalives were sent.
#include <gtest/gtest.h>

#include "control/election.hpp"

namespace wghub::ctl {
namespace {

using namespace std::chrono_literals;
using Clock = LeaseFence::Clock;

TEST(LeaseFence, NotAnsweringUntilALeaseIsHeld) {
  LeaseFence f(500ms);
  const Clock::time_point t = Clock::now();
  EXPECT_FALSE(f.answering(t));
  EXPECT_FALSE(f.held(t));
}

TEST(LeaseFence, AnswersUntilTheTtlLessTheMarginFromTheSend) {
  LeaseFence f(500ms);
  const Clock::time_point sent = Clock::now();
  f.renewed(sent, 2s);
  EXPECT_TRUE(f.answering(sent));
  EXPECT_TRUE(f.answering(sent + 1499ms));
  // Stops before etcd could let the lease expire (its TTL started later).
  EXPECT_FALSE(f.answering(sent + 1500ms));
  EXPECT_TRUE(f.held(sent + 1999ms));
  EXPECT_FALSE(f.held(sent + 2s));
  // A keepalive sent later moves the deadline.
  f.renewed(sent + 600ms, 2s);
  EXPECT_TRUE(f.answering(sent + 2000ms));
  EXPECT_FALSE(f.answering(sent + 2100ms));
}

TEST(LeaseFence, AFailedKeepaliveStopsAtOnceButTheLeaseMayStillBeHeld) {
  LeaseFence f(500ms);
  const Clock::time_point sent = Clock::now();
  f.renewed(sent, 2s);
  f.doubt();
  EXPECT_FALSE(f.answering(sent));
  EXPECT_TRUE(f.held(sent + 1s));  // keep trying the keepalive until then
  f.renewed(sent + 1s, 2s);        // it succeeded after all
  EXPECT_TRUE(f.answering(sent + 1s));
  f.release();
  EXPECT_FALSE(f.answering(sent + 1s));
  EXPECT_FALSE(f.held(sent + 1s));
}

TEST(LeaseFence, AMarginAsLongAsTheTtlNeverAnswers) {
  LeaseFence f(2s);
  const Clock::time_point sent = Clock::now();
  f.renewed(sent, 2s);
  EXPECT_FALSE(f.answering(sent));
}

TEST(Election, MarginIsHalfASecondOrAQuarterOfTheTtl) {
  EXPECT_EQ(Election::margin_for(2s), 500ms);
  EXPECT_EQ(Election::margin_for(10s), 2500ms);
}

TEST(Election, UnreachableEtcdNeverAnswers) {
  EtcdOptions o;
  o.endpoints = {"http://127.0.0.1:9"};  // discard: nothing listens
  ElectionOptions eo{"/t/leader", "hub-a", 2s, "", nullptr};
  Election e(std::make_unique<EtcdClient>(o), eo);
  e.start();
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(e.answering());
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_FALSE(e.status().connected);
}

}  // namespace
}  // namespace wghub::ctl
