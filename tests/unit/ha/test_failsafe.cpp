// Failsafe mode (control/failsafe.hpp): the promise gate's rules, the
// datagram's authentication, and two Failsafe endpoints over loopback UDP.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>

#include "control/election.hpp"
#include "control/failsafe.hpp"

namespace wghub::ctl {
namespace {

using namespace std::chrono_literals;
using Clock = PromiseGate::Clock;

TEST(PromiseGate, APromiseHoldsBackACampaignUntilItRunsOut) {
  PromiseGate g;
  const Clock::time_point t = Clock::now();
  EXPECT_TRUE(g.promise(t, 2s));
  EXPECT_FALSE(g.begin_campaign(t + 1999ms));
  EXPECT_TRUE(g.begin_campaign(t + 2s));
}

TEST(PromiseGate, ACampaigningOrLeadingHubPromisesNothing) {
  PromiseGate g;
  const Clock::time_point t = Clock::now();
  ASSERT_TRUE(g.begin_campaign(t));
  EXPECT_FALSE(g.promise(t, 2s));
  EXPECT_FALSE(g.promise(t + 10s, 2s));  // still leading
  g.end_campaign();
  EXPECT_TRUE(g.promise(t + 10s, 2s));
  EXPECT_FALSE(g.begin_campaign(t + 11s));
}

TEST(PromiseGate, APromiseNeverShortensAnEarlierOne) {
  PromiseGate g;
  const Clock::time_point t = Clock::now();
  g.promise(t, 10s);
  g.promise(t + 1s, 2s);
  EXPECT_EQ(g.promised_until(), t + 10s);
}

TEST(LeaseFence, PromisesExtendTheFenceFromWhenTheRoundWasSent) {
  LeaseFence f(500ms);
  const Clock::time_point t = Clock::now();
  f.renewed(t, 2s);
  f.promised(t + 1s, 2000ms);
  EXPECT_TRUE(f.answering(t + 2499ms));
  EXPECT_FALSE(f.answering(t + 2500ms));
  // An earlier round never moves it back.
  f.promised(t, 2000ms);
  EXPECT_TRUE(f.answering(t + 2499ms));
  // Promises reopen a doubted fence (the promisers do not campaign).
  f.doubt();
  EXPECT_FALSE(f.answering(t + 1s));
  f.promised(t + 1s, 2000ms);
  EXPECT_TRUE(f.answering(t + 1s));
}

FailsafeMessage::Key key_of(std::uint8_t fill) {
  std::array<std::uint8_t, 32> priv;
  priv.fill(fill);
  return FailsafeMessage::derive_key(priv);
}

FailsafeMessage sample() {
  FailsafeMessage m;
  m.kind = FailsafeMessage::Kind::request;
  for (std::size_t i = 0; i < m.nonce.size(); ++i) m.nonce[i] = static_cast<std::uint8_t>(i);
  m.time_ns = 1234567890123456789ull;
  m.ttl_ms = 2000;
  m.node = "hub-a";
  return m;
}

TEST(FailsafeMessage, RoundTrips) {
  const auto key = key_of(7);
  const auto d = sample().encode(key);
  auto m = FailsafeMessage::decode(d, key);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->kind, FailsafeMessage::Kind::request);
  EXPECT_EQ(m->nonce, sample().nonce);
  EXPECT_EQ(m->time_ns, sample().time_ns);
  EXPECT_EQ(m->ttl_ms, 2000u);
  EXPECT_EQ(m->node, "hub-a");
}

TEST(FailsafeMessage, AnyChangedBitOrAnotherKeyIsRefused) {
  const auto key = key_of(7);
  const auto d = sample().encode(key);
  for (std::size_t i = 0; i < d.size(); ++i) {
    auto bad = d;
    bad[i] ^= 0x01;
    EXPECT_FALSE(FailsafeMessage::decode(bad, key).has_value()) << "byte " << i;
  }
  EXPECT_FALSE(FailsafeMessage::decode(d, key_of(8)).has_value());
  for (std::size_t n = 0; n < d.size(); ++n)
    EXPECT_FALSE(FailsafeMessage::decode(std::span(d).first(n), key).has_value()) << n;
  auto longer = d;
  longer.push_back(0);
  EXPECT_FALSE(FailsafeMessage::decode(longer, key).has_value());
}

// True once pred() holds, polled every 5 ms for up to 10 s.
template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 2000 && !pred(); ++i) std::this_thread::sleep_for(5ms);
  return pred();
}

std::unique_ptr<Failsafe> open_on_loopback(std::vector<config::Endpoint> peers,
                                           const std::string& node, std::uint8_t key_fill = 7) {
  FailsafeOptions o;
  o.listen = *config::Endpoint::parse("127.0.0.1:0").value;
  o.peers = std::move(peers);
  o.node = node;
  o.ttl = 2000ms;
  o.key = key_of(key_fill);
  std::string error;
  auto f = Failsafe::open(std::move(o), error);
  EXPECT_NE(f, nullptr) << error;
  return f;
}

TEST(Failsafe, AllPeersPromiseThenOneCampaigns) {
  auto b = open_on_loopback({}, "hub-b");
  auto c = open_on_loopback({}, "hub-c");
  ASSERT_TRUE(b && c);
  auto a = open_on_loopback({b->local(), c->local()}, "hub-a");
  ASSERT_TRUE(a);
  Clock::time_point sent;
  const Clock::time_point before = Clock::now();
  ASSERT_TRUE(a->round(2s, sent));
  EXPECT_GE(sent, before);
  // Both promised: neither may campaign for the TTL from receipt.
  EXPECT_GE(b->gate().promised_until(), sent + 2s);
  EXPECT_FALSE(b->gate().begin_campaign(Clock::now()));
  EXPECT_EQ(b->status().promises_given, 1u);
  EXPECT_EQ(a->status().rounds_ok, 1u);
  // One of them campaigns (its promise ran out, say): the round fails.
  ASSERT_TRUE(c->gate().begin_campaign(c->gate().promised_until()));
  EXPECT_FALSE(a->round(2s, sent));
  EXPECT_EQ(c->status().promises_refused, 1u);
  EXPECT_EQ(a->status().rounds_failed, 1u);
}

TEST(Failsafe, AnUnansweredOrUnauthenticatedRoundFails) {
  auto b = open_on_loopback({}, "hub-b", /*key_fill=*/9);  // another private key
  ASSERT_TRUE(b);
  auto a = open_on_loopback({b->local()}, "hub-a");
  ASSERT_TRUE(a);
  Clock::time_point sent;
  EXPECT_FALSE(a->round(200ms, sent));
  // b's thread may still be reading the datagram on a busy machine.
  EXPECT_TRUE(eventually([&] { return b->status().bad_datagrams == 1; }));
  EXPECT_EQ(b->status().promises_given, 0u);
  EXPECT_EQ(b->gate().promised_until(), Clock::time_point{});
  // No peers: nothing to ask, never a promise.
  auto lone = open_on_loopback({}, "hub-x");
  EXPECT_FALSE(lone->round(10ms, sent));
}

TEST(Failsafe, ARecordedRequestCannotBeReplayed) {
  auto b = open_on_loopback({}, "hub-b");
  ASSERT_TRUE(b);
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(b->local().port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  FailsafeMessage m = sample();
  m.time_ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  const auto d = m.encode(key_of(7));
  auto send = [&] {
    ASSERT_EQ(::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(d.size()));
  };
  send();
  EXPECT_TRUE(eventually([&] { return b->status().promises_given == 1; }));
  send();  // the same datagram again
  EXPECT_TRUE(eventually([&] { return b->status().bad_datagrams == 1; }));
  EXPECT_EQ(b->status().promises_given, 1u);
  // A request from an hour ago (a sender whose clock is far off) too.
  FailsafeMessage old = sample();
  old.node = "hub-c";
  old.time_ns = m.time_ns - 3600ull * 1000000000ull;
  const auto o = old.encode(key_of(7));
  ASSERT_GT(::sendto(fd, o.data(), o.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  EXPECT_TRUE(eventually([&] { return b->status().bad_datagrams == 2; }));
  EXPECT_EQ(b->status().promises_given, 1u);
  ::close(fd);
}

}  // namespace
}  // namespace wghub::ctl
