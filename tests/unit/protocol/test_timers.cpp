// The timer state machine (control/timers) in simulated time, as tables:
// each row is one event at a simulated second, and the actions it must
// produce — initiations, keepalives, key erasure, purges — exactly, in order.
// The rows follow the kernel's timers.c and send.c/receive.c keep_key_fresh.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "control/timers.hpp"

namespace wghub::ctl {
namespace {

using A = TimerAction;
using std::chrono::duration_cast;

enum class Ev {
  kDataSent,
  kDataReceived,
  kAnySent,
  kAnyReceived,
  kTraversal,
  kHandshakeComplete,
  kSessionDerived,
  kNeedHandshake,
  kResponseSent,
  kFreshSent,      // keep_key_fresh_sent with the row's key
  kFreshReceived,  // keep_key_fresh_received with the row's key
  kSetKeepalive,   // set_persistent_keepalive(row.keepalive)
  kExpire,
};

struct Key {
  bool valid = true;
  bool initiator = true;
  double birth = 0;
  std::uint64_t counter = 0;
};

struct Step {
  double at;  // simulated seconds
  Ev ev;
  std::vector<A> expect;
  Key key{};
  int keepalive = 0;
};

struct Case {
  std::string name;
  double jitter_s;
  std::vector<Step> steps;
};

const TimePoint kT0{std::chrono::hours(1000)};

TimePoint at(double seconds) {
  return kT0 + duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

std::string describe(const std::vector<A>& actions) {
  std::string s = "{";
  for (A a : actions) s += std::string(s.size() > 1 ? ", " : "") + to_string(a);
  return s + "}";
}

void run(const Case& c, PeerTimers& timers) {
  for (std::size_t i = 0; i < c.steps.size(); ++i) {
    const Step& st = c.steps[i];
    const TimePoint now = at(st.at);
    SendingKey key{st.key.valid, st.key.initiator, at(st.key.birth), st.key.counter};
    std::vector<A> out;
    // One event per line reads as the table it drives.
    // clang-format off
    switch (st.ev) {
      case Ev::kDataSent: timers.data_sent(now); break;
      case Ev::kDataReceived: timers.data_received(now); break;
      case Ev::kAnySent: timers.any_authenticated_packet_sent(now); break;
      case Ev::kAnyReceived: timers.any_authenticated_packet_received(now); break;
      case Ev::kTraversal: timers.any_authenticated_packet_traversal(now); break;
      case Ev::kHandshakeComplete: timers.handshake_complete(now); break;
      case Ev::kSessionDerived: timers.session_derived(now); break;
      case Ev::kNeedHandshake: timers.need_handshake(now, out); break;
      case Ev::kResponseSent: timers.handshake_response_sent(now); break;
      case Ev::kFreshSent: timers.keep_key_fresh_sent(key, now, out); break;
      case Ev::kFreshReceived: timers.keep_key_fresh_received(key, now, out); break;
      case Ev::kSetKeepalive:
        timers.set_persistent_keepalive(std::chrono::seconds(st.keepalive), out);
        break;
      case Ev::kExpire: timers.expire(now, out); break;
    }
    // clang-format on
    EXPECT_EQ(describe(out), describe(st.expect))
        << c.name << ", step " << i << " at t=" << st.at << " s";
  }
}

PeerTimers::Jitter fixed(double seconds) {
  return
      [seconds] { return duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)); };
}

// Every initiation of a handshake that never completes: at 0, then one
// retransmission per REKEY_TIMEOUT (no jitter), 20 in all, then the purge.
std::vector<Step> unanswered_handshake_from(double start) {
  std::vector<Step> steps{{start, Ev::kNeedHandshake, {A::kSendInitiation}}};
  for (int k = 1; k <= 19; ++k) {
    steps.push_back({start + 5.0 * k - 0.001, Ev::kExpire, {}});
    steps.push_back({start + 5.0 * k, Ev::kExpire, {A::kSendInitiation}});
  }
  steps.push_back({start + 100, Ev::kExpire, {A::kPurgeStaged}});
  return steps;
}

std::vector<Case> cases() {
  std::vector<Case> all = {
      {"passive keepalive KEEPALIVE_TIMEOUT after data received",
       0,
       {{0, Ev::kDataReceived, {}},
        {9.9, Ev::kExpire, {}},
        {10, Ev::kExpire, {A::kSendKeepalive}},
        {60, Ev::kExpire, {}}}},
      {"anything sent cancels the passive keepalive",
       0,
       {{0, Ev::kDataReceived, {}}, {3, Ev::kAnySent, {}}, {30, Ev::kExpire, {}}}},
      {"data received while a keepalive is owed: one more after it",
       0,
       {{0, Ev::kDataReceived, {}},
        {5, Ev::kDataReceived, {}},
        {10, Ev::kExpire, {A::kSendKeepalive}},
        {19.9, Ev::kExpire, {}},
        {20, Ev::kExpire, {A::kSendKeepalive}},
        {60, Ev::kExpire, {}}}},
      {"new handshake KEEPALIVE_TIMEOUT + REKEY_TIMEOUT after unanswered data",
       0,
       {{0, Ev::kDataSent, {}}, {14.9, Ev::kExpire, {}}, {15, Ev::kExpire, {A::kSendInitiation}}}},
      {"more data does not push the new-handshake deadline",
       0,
       {{0, Ev::kDataSent, {}}, {10, Ev::kDataSent, {}}, {15, Ev::kExpire, {A::kSendInitiation}}}},
      {"an authenticated answer cancels the new handshake",
       0,
       {{0, Ev::kDataSent, {}}, {2, Ev::kAnyReceived, {}}, {30, Ev::kExpire, {}}}},
      {"jitter delays retransmissions and the new handshake",
       0.25,
       {{0, Ev::kDataSent, {}},
        {15.24, Ev::kExpire, {}},
        {15.25, Ev::kExpire, {A::kSendInitiation}},
        {20.49, Ev::kExpire, {}},
        {20.5, Ev::kExpire, {A::kSendInitiation}}}},
      {"initiations are rate limited to one per REKEY_TIMEOUT",
       0,
       {{0, Ev::kNeedHandshake, {A::kSendInitiation}},
        {2, Ev::kNeedHandshake, {}},
        {4.99, Ev::kNeedHandshake, {}},
        {5, Ev::kNeedHandshake, {A::kSendInitiation}},
        {9.99, Ev::kExpire, {}},
        {10, Ev::kExpire, {A::kSendInitiation}}}},
      {"a response sent holds off our own initiation for REKEY_TIMEOUT",
       0,
       {{0, Ev::kDataReceived, {}},
        {0, Ev::kResponseSent, {}},  // also settles the owed keepalive
        {1, Ev::kNeedHandshake, {}},
        {4.99, Ev::kNeedHandshake, {}},
        {5, Ev::kNeedHandshake, {A::kSendInitiation}},
        {5, Ev::kExpire, {}}}},
      {"a completed handshake stops retransmission",
       0,
       {{0, Ev::kNeedHandshake, {A::kSendInitiation}},
        {5, Ev::kExpire, {A::kSendInitiation}},
        {6, Ev::kHandshakeComplete, {}},
        {200, Ev::kExpire, {}}}},
      {"key material erased 3 * REJECT_AFTER_TIME after the session",
       0,
       {{0, Ev::kSessionDerived, {}},
        {539.9, Ev::kExpire, {}},
        {540, Ev::kExpire, {A::kZeroKeyMaterial}},
        {2000, Ev::kExpire, {}}}},
      {"a new session postpones the erasure",
       0,
       {{0, Ev::kSessionDerived, {}},
        {120, Ev::kSessionDerived, {}},
        {540, Ev::kExpire, {}},
        {660, Ev::kExpire, {A::kZeroKeyMaterial}}}},
      {"persistent keepalive: one at once, then the interval after any traffic",
       0,
       {{0, Ev::kSetKeepalive, {A::kSendKeepalive}, {}, 25},
        {0, Ev::kTraversal, {}},
        {24.9, Ev::kExpire, {}},
        {25, Ev::kExpire, {A::kSendKeepalive}},
        {25, Ev::kTraversal, {}},
        {40, Ev::kTraversal, {}},  // other traffic re-arms it
        {50, Ev::kExpire, {}},
        {65, Ev::kExpire, {A::kSendKeepalive}}}},
      {"persistent keepalive changed or turned off",
       0,
       {{0, Ev::kSetKeepalive, {A::kSendKeepalive}, {}, 25},
        {1, Ev::kSetKeepalive, {}, {}, 10},  // already on: no extra keepalive
        {1, Ev::kTraversal, {}},
        {11, Ev::kExpire, {A::kSendKeepalive}},
        {12, Ev::kTraversal, {}},
        {13, Ev::kSetKeepalive, {}, {}, 0},
        {100, Ev::kExpire, {}},
        {100, Ev::kTraversal, {}},
        {200, Ev::kExpire, {}}}},
      {"initiator rekeys on send after REKEY_AFTER_TIME",
       0,
       {{119.9, Ev::kFreshSent, {}, {true, true, 0, 5}},
        {120, Ev::kFreshSent, {A::kSendInitiation}, {true, true, 0, 5}},
        {121, Ev::kFreshSent, {}, {true, true, 0, 5}}}},  // rate limited
      {"responder never rekeys on time, both rekey after REKEY_AFTER_MESSAGES",
       0,
       {{170, Ev::kFreshSent, {}, {true, false, 0, 5}},
        {171, Ev::kFreshSent, {}, {true, false, 0, dp::kRekeyAfterMessages}},
        {172,
         Ev::kFreshSent,
         {A::kSendInitiation},
         {true, false, 0, dp::kRekeyAfterMessages + 1}}}},
      {"no keep-key-fresh on an invalid keypair",
       0,
       {{500, Ev::kFreshSent, {}, {false, true, 0, 5}},
        {500, Ev::kFreshReceived, {}, {false, true, 0, 5}}}},
      {"initiator's last-minute handshake on receive, once per session",
       0,
       {{164.9, Ev::kFreshReceived, {}, {true, true, 0, 1}},
        {165, Ev::kFreshReceived, {A::kSendInitiation}, {true, true, 0, 1}},
        {171, Ev::kFreshReceived, {}, {true, true, 0, 1}},  // already sent
        {172, Ev::kHandshakeComplete, {}},
        {172, Ev::kExpire, {}},
        {337, Ev::kFreshReceived, {A::kSendInitiation}, {true, true, 172, 1}}}},
      {"the responder never sends the last-minute handshake",
       0,
       {{170, Ev::kFreshReceived, {}, {true, false, 0, 1}}}},
  };

  Case give_up{"REKEY_ATTEMPT_TIME: 20 initiations, then purge and erase 540 s later", 0,
               unanswered_handshake_from(0)};
  give_up.steps.push_back({100 + 539.9, Ev::kExpire, {}});
  give_up.steps.push_back({100 + 540, Ev::kExpire, {A::kZeroKeyMaterial}});
  all.push_back(give_up);

  Case pending_erasure{"giving up keeps an erasure already due", 0, {{0, Ev::kSessionDerived, {}}}};
  for (Step s : unanswered_handshake_from(300)) pending_erasure.steps.push_back(s);
  // Due at 540 (from the session), not at 400 + 540.
  pending_erasure.steps.push_back({539.9, Ev::kExpire, {}});
  pending_erasure.steps.push_back({540, Ev::kExpire, {A::kZeroKeyMaterial}});
  pending_erasure.steps.push_back({2000, Ev::kExpire, {}});
  all.push_back(pending_erasure);

  Case restart{"a fresh request restarts the attempt count", 0, {}};
  restart.steps = {{0, Ev::kNeedHandshake, {A::kSendInitiation}}};
  for (int k = 1; k <= 10; ++k)
    restart.steps.push_back({5.0 * k, Ev::kExpire, {A::kSendInitiation}});
  // New traffic at 52 s: rate limited, but the count starts over, so 19 more
  // retransmissions follow before the purge.
  restart.steps.push_back({52, Ev::kNeedHandshake, {}});
  for (int k = 11; k <= 29; ++k)
    restart.steps.push_back({5.0 * k, Ev::kExpire, {A::kSendInitiation}});
  restart.steps.push_back({150, Ev::kExpire, {A::kPurgeStaged}});
  all.push_back(restart);

  Case passive_cancelled_by_give_up{"giving up cancels the owed keepalive", 0, {}};
  passive_cancelled_by_give_up.steps = unanswered_handshake_from(0);
  passive_cancelled_by_give_up.steps.insert(passive_cancelled_by_give_up.steps.end() - 1,
                                            Step{99.5, Ev::kDataReceived, {}});
  passive_cancelled_by_give_up.steps.push_back({120, Ev::kExpire, {}});
  all.push_back(passive_cancelled_by_give_up);
  return all;
}

TEST(PeerTimers, Table) {
  for (const Case& c : cases()) {
    PeerTimers timers(fixed(c.jitter_s));
    run(c, timers);
  }
}

TEST(PeerTimers, AttemptCountAndDeadlines) {
  PeerTimers timers(fixed(0));
  std::vector<A> out;
  EXPECT_FALSE(timers.next_deadline());
  timers.need_handshake(at(0), out);
  EXPECT_EQ(timers.handshake_attempts(), 0u);
  EXPECT_EQ(timers.next_deadline(), at(5));
  timers.expire(at(5), out);
  timers.expire(at(10), out);
  EXPECT_EQ(timers.handshake_attempts(), 2u);
  timers.session_derived(at(11));
  timers.handshake_complete(at(11));
  EXPECT_EQ(timers.handshake_attempts(), 0u);
  EXPECT_FALSE(timers.retransmit_armed());
  EXPECT_EQ(timers.next_deadline(), at(11 + 540));
  EXPECT_EQ(out.size(), 3u);
}

TEST(PeerTimers, StopDisarmsEverything) {
  PeerTimers timers(fixed(0));
  std::vector<A> out;
  timers.set_persistent_keepalive(std::chrono::seconds(25), out);
  timers.any_authenticated_packet_traversal(at(0));
  timers.need_handshake(at(0), out);  // sending cancels an owed keepalive: first
  timers.data_received(at(0));
  timers.data_sent(at(0));
  timers.session_derived(at(0));
  EXPECT_TRUE(timers.persistent_keepalive_armed() && timers.send_keepalive_armed() &&
              timers.new_handshake_armed() && timers.zero_key_material_armed() &&
              timers.retransmit_armed());
  timers.stop();
  EXPECT_FALSE(timers.next_deadline());
  out.clear();
  timers.expire(at(10000), out);
  EXPECT_TRUE(out.empty());
}

TEST(PeerTimers, DefaultJitterStaysBelowAThirdOfASecond) {
  for (int i = 0; i < 200; ++i) {
    PeerTimers timers;
    std::vector<A> out;
    timers.need_handshake(at(0), out);
    const auto deadline = *timers.next_deadline();
    EXPECT_GE(deadline, at(5));
    EXPECT_LT(deadline, at(5) + kRekeyTimeoutJitterMax);
  }
}

TEST(PeerTimers, ConstantsMatchTheKernel) {
  EXPECT_EQ(kMaxTimerHandshakes, 18u);
  EXPECT_EQ(kLastMinuteHandshakeAge, std::chrono::seconds(165));
  EXPECT_EQ(kZeroKeyMaterialAfter, std::chrono::seconds(540));
}

}  // namespace
}  // namespace wghub::ctl
