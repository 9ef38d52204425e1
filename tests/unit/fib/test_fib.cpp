// The FIB against a naive longest-prefix-match model: thousands of random
// prefixes of every length 0..32 (nested ones on purpose), random lookups
// inside and outside them, then a random half removed and everything compared
// again; plus the API edges (encoding, /0, bad input, errors).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "dataplane/fib.hpp"
#include "dataplane/rcu.hpp"

namespace wghub::dp {
namespace {

uint32_t mask_of(unsigned depth) {
  return depth == 0 ? 0 : ~uint32_t{0} << (32 - depth);
}

std::unique_ptr<Fib> make_fib(const std::string& name, Rcu* rcu = nullptr,
                              uint32_t tbl8_groups = 1u << 12) {
  FibConfig config;
  config.name = name;
  config.max_rules = 1u << 14;
  config.tbl8_groups = tbl8_groups;
  std::string error;
  auto fib = Fib::create(config, rcu, error);
  EXPECT_NE(fib, nullptr) << error;
  return fib;
}

// Naive model: every rule in a map, lookup scans all of them.
class NaiveFib {
 public:
  void add(uint32_t ip, unsigned depth, NextHop nh) { rules_[{ip & mask_of(depth), depth}] = nh; }
  bool remove(uint32_t ip, unsigned depth) {
    return rules_.erase({ip & mask_of(depth), depth}) > 0;
  }
  NextHop lookup(uint32_t ip) const {
    NextHop best;
    int best_depth = -1;
    for (const auto& [key, nh] : rules_) {
      const auto& [net, depth] = key;
      if ((ip & mask_of(depth)) == net && static_cast<int>(depth) > best_depth) {
        best = nh;
        best_depth = static_cast<int>(depth);
      }
    }
    return best;
  }
  std::vector<std::pair<uint32_t, unsigned>> keys() const {
    std::vector<std::pair<uint32_t, unsigned>> out;
    for (const auto& [key, nh] : rules_) out.push_back(key);
    return out;
  }
  size_t size() const { return rules_.size(); }
  std::optional<NextHop> rule(uint32_t net, unsigned depth) const {
    auto it = rules_.find({net, depth});
    if (it == rules_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::pair<uint32_t, unsigned>, NextHop> rules_;
};

NextHop random_next_hop(std::mt19937& rng) {
  std::uniform_int_distribution<unsigned> kind(1, kNextHopKindCount - 1);
  std::uniform_int_distribution<uint32_t> id(0, kMaxNextHopId);
  return NextHop{static_cast<NextHopKind>(kind(rng)), id(rng)};
}

std::string describe(NextHop nh) {
  return "{kind " + std::to_string(static_cast<unsigned>(nh.kind)) + ", id " +
         std::to_string(nh.id) + "}";
}

// Addresses to probe: inside random rules (random host bits), at their edges,
// and uniformly random.
std::vector<uint32_t> probe_addresses(const NaiveFib& model, std::mt19937& rng, size_t count) {
  std::vector<uint32_t> out;
  const auto keys = model.keys();
  std::uniform_int_distribution<size_t> pick(0, keys.empty() ? 0 : keys.size() - 1);
  while (out.size() < count) {
    const uint32_t random = static_cast<uint32_t>(rng());
    switch (rng() % 4) {
      case 0:
        out.push_back(random);
        break;
      default: {
        if (keys.empty()) break;
        const auto& [net, depth] = keys[pick(rng)];
        const uint32_t host = ~mask_of(depth);
        if (rng() % 3 == 0) {
          out.push_back(net);               // first address
          out.push_back(net | host);        // last address
          out.push_back((net | host) + 1);  // just past it
        } else {
          out.push_back(net | (random & host));
        }
      }
    }
  }
  return out;
}

void expect_same(const Fib& fib, const NaiveFib& model, const std::vector<uint32_t>& ips) {
  std::vector<NextHop> bulk(ips.size());
  fib.lookup_bulk(ips.data(), bulk.data(), static_cast<unsigned>(ips.size()));
  size_t mismatches = 0;
  for (size_t i = 0; i < ips.size() && mismatches < 10; ++i) {
    const NextHop want = model.lookup(ips[i]);
    const NextHop got = fib.lookup(ips[i]);
    if (got != want || bulk[i] != want) {
      ++mismatches;
      ADD_FAILURE() << format_prefix(ips[i], 32) << ": model " << describe(want) << ", lookup "
                    << describe(got) << ", bulk " << describe(bulk[i]);
    }
  }
}

TEST(NextHopEncoding, RoundTripsEveryKindAndIdEdges) {
  for (unsigned k = 1; k < kNextHopKindCount; ++k) {
    for (uint32_t id : {0u, 1u, 12345u, kMaxNextHopId}) {
      const NextHop nh{static_cast<NextHopKind>(k), id};
      const uint32_t v = encode_next_hop(nh);
      EXPECT_NE(v, 0u);                 // 0 is reserved for "no route"
      EXPECT_LT(v, uint32_t{1} << 24);  // fits rte_lpm's 24 bits
      EXPECT_EQ(decode_next_hop(v), nh);
    }
  }
  EXPECT_FALSE(decode_next_hop(0).found());
}

TEST(Fib, MatchesNaiveModelWithRandomPrefixes) {
  auto fib = make_fib("fib_model");
  ASSERT_NE(fib, nullptr);
  NaiveFib model;
  std::mt19937 rng(20240611);

  // 3000 rules: a third fully random, two thirds nested inside an earlier rule
  // (same leading bits, longer or equal length) so overlaps are everywhere.
  // Force the edges: /0, /32, /24, /25 and the 0.0.0.0 and 255.255.255.255 ends.
  std::vector<std::pair<uint32_t, unsigned>> added;
  auto add = [&](uint32_t ip, unsigned depth) {
    const NextHop nh = random_next_hop(rng);
    ASSERT_TRUE(fib->add(ip, static_cast<uint8_t>(depth), nh))
        << format_prefix(ip, static_cast<uint8_t>(depth)) << ": " << fib->error();
    model.add(ip, depth, nh);
    added.emplace_back(ip & mask_of(depth), depth);
  };
  add(0, 0);
  add(0xffffffffu, 32);
  add(0, 32);
  add(0x0a000000u, 8);
  add(0x0a010200u, 24);
  add(0x0a010280u, 25);
  while (added.size() < 3000) {
    if (rng() % 3 == 0 || added.empty()) {
      add(static_cast<uint32_t>(rng()), rng() % 33);
    } else {
      const auto [net, depth] = added[rng() % added.size()];
      const unsigned deeper = depth + static_cast<unsigned>(rng() % (33 - depth));
      add(net | (static_cast<uint32_t>(rng()) & ~mask_of(depth)), deeper);
    }
    if (HasFatalFailure()) return;
  }
  EXPECT_EQ(fib->size(), model.size());

  const auto probes = probe_addresses(model, rng, 20000);
  expect_same(*fib, model, probes);

  // Replace the next hop of some existing rules: the newest one wins.
  for (int i = 0; i < 100; ++i) {
    const auto [net, depth] = added[rng() % added.size()];
    const NextHop nh = random_next_hop(rng);
    ASSERT_TRUE(fib->add(net, static_cast<uint8_t>(depth), nh));
    model.add(net, depth, nh);
    EXPECT_EQ(fib->rule(net, static_cast<uint8_t>(depth)), nh);
  }

  // Remove a random half (the /0 included with probability 1/2) and compare.
  auto keys = model.keys();
  std::shuffle(keys.begin(), keys.end(), rng);
  keys.resize(keys.size() / 2);
  for (const auto& [net, depth] : keys) {
    ASSERT_TRUE(fib->remove(net, static_cast<uint8_t>(depth)))
        << format_prefix(net, static_cast<uint8_t>(depth));
    ASSERT_TRUE(model.remove(net, depth));
    EXPECT_FALSE(fib->rule(net, static_cast<uint8_t>(depth)).has_value());
  }
  EXPECT_EQ(fib->size(), model.size());
  expect_same(*fib, model, probes);
  expect_same(*fib, model, probe_addresses(model, rng, 20000));

  // The shadow list is the model's rule set.
  EXPECT_EQ(fib->routes().size(), model.size());
  for (const Route& r : fib->routes()) EXPECT_EQ(model.rule(r.ip, r.depth), r.next_hop);

  fib->clear();
  EXPECT_EQ(fib->size(), 0u);
  for (uint32_t ip : probes) ASSERT_FALSE(fib->lookup(ip).found()) << format_prefix(ip, 32);
}

TEST(Fib, DefaultRouteAnswersEveryMiss) {
  auto fib = make_fib("fib_dflt");
  ASSERT_NE(fib, nullptr);
  const NextHop peer{NextHopKind::kPeer, 7};
  const NextHop lan{NextHopKind::kLanConnected, 0};
  EXPECT_FALSE(fib->lookup(0x01020304u).found());
  ASSERT_TRUE(fib->add(0x12345678u, 0, peer));  // host bits of a /0 are ignored
  ASSERT_TRUE(fib->add(0xc0a80100u, 24, lan));
  EXPECT_EQ(fib->lookup(0x01020304u), peer);
  EXPECT_EQ(fib->lookup(0xc0a801feu), lan);
  uint32_t ips[3] = {0x01020304u, 0xc0a801feu, 0xffffffffu};
  NextHop out[3];
  fib->lookup_bulk(ips, out, 3);
  EXPECT_EQ(out[0], peer);
  EXPECT_EQ(out[1], lan);
  EXPECT_EQ(out[2], peer);
  EXPECT_EQ(fib->rule(0, 0), peer);
  EXPECT_TRUE(fib->remove(0, 0));
  EXPECT_FALSE(fib->remove(0, 0));
  EXPECT_FALSE(fib->lookup(0x01020304u).found());
  EXPECT_EQ(fib->lookup(0xc0a801feu), lan);
}

TEST(Fib, RejectsBadInputWithAMessage) {
  auto fib = make_fib("fib_bad");
  ASSERT_NE(fib, nullptr);
  EXPECT_FALSE(fib->add(0x0a000000u, 33, NextHop{NextHopKind::kPeer, 1}));
  EXPECT_FALSE(fib->error().empty());
  EXPECT_FALSE(fib->add(0x0a000000u, 8, NextHop{NextHopKind::kNone, 1}));
  EXPECT_FALSE(fib->add(0x0a000000u, 8, NextHop{NextHopKind::kPeer, kMaxNextHopId + 1}));
  EXPECT_NE(fib->error().find("10.0.0.0/8"), std::string::npos) << fib->error();
  EXPECT_FALSE(fib->remove(0x0a000000u, 8));  // never added
  EXPECT_FALSE(fib->remove(0x0a000000u, 40));
  EXPECT_EQ(fib->size(), 0u);

  const Route routes[] = {{0x0a000000u, 8, {NextHopKind::kPeer, 1}},
                          {0x0b000000u, 8, {NextHopKind::kNone, 0}},
                          {0x0c000000u, 8, {NextHopKind::kPeer, 3}}};
  EXPECT_FALSE(fib->add_all(routes));
  EXPECT_NE(fib->error().find("11.0.0.0/8"), std::string::npos) << fib->error();
  EXPECT_EQ(fib->lookup(0x0a010101u), (NextHop{NextHopKind::kPeer, 1}));
  EXPECT_FALSE(fib->lookup(0x0c010101u).found());  // stopped at the bad one
}

TEST(Fib, CreationErrorsAreReported) {
  std::string error;
  FibConfig config;
  config.name = "fib_dup";
  config.max_rules = 16;
  config.tbl8_groups = 4;
  auto first = Fib::create(config, nullptr, error);
  ASSERT_NE(first, nullptr) << error;
  auto second = Fib::create(config, nullptr, error);  // same memzone name
  EXPECT_EQ(second, nullptr);
  EXPECT_NE(error.find("fib_dup"), std::string::npos) << error;

  error.clear();
  config.name = "a_name_far_too_long";
  EXPECT_EQ(Fib::create(config, nullptr, error), nullptr);
  EXPECT_FALSE(error.empty());

  error.clear();
  Rcu uninitialised;
  config.name = "fib_norcu";
  EXPECT_EQ(Fib::create(config, &uninitialised, error), nullptr);
  EXPECT_FALSE(error.empty());
}

TEST(Fib, FullTableFailsCleanly) {
  FibConfig config;
  config.name = "fib_full";
  config.max_rules = 64;
  config.tbl8_groups = 2;
  std::string error;
  auto fib = Fib::create(config, nullptr, error);
  ASSERT_NE(fib, nullptr) << error;
  // Two /24s can hold longer prefixes; a third needs a third tbl8 group.
  ASSERT_TRUE(fib->add(0x0a000080u, 25, {NextHopKind::kPeer, 1}));
  ASSERT_TRUE(fib->add(0x0a000180u, 25, {NextHopKind::kPeer, 2}));
  EXPECT_FALSE(fib->add(0x0a000280u, 25, {NextHopKind::kPeer, 3}));
  EXPECT_NE(fib->error().find("full"), std::string::npos) << fib->error();
  EXPECT_FALSE(fib->rule(0x0a000280u, 25).has_value());
  EXPECT_FALSE(fib->lookup(0x0a000281u).found());
  EXPECT_EQ(fib->lookup(0x0a000181u), (NextHop{NextHopKind::kPeer, 2}));
}

TEST(LanGateways, SharesIdsPerAddressAndRecyclesAfterAGracePeriod) {
  Rcu rcu;  // no readers: retirement completes at once
  DeferredFree deferred(rcu);
  LanGateways gateways(2);
  const auto a = gateways.acquire(0xc0a80101u);
  const auto a2 = gateways.acquire(0xc0a80101u);
  const auto b = gateways.acquire(0xc0a80102u);
  ASSERT_TRUE(a && a2 && b);
  EXPECT_EQ(*a, *a2);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(gateways.address(*a), 0xc0a80101u);
  EXPECT_EQ(gateways.address(*b), 0xc0a80102u);
  EXPECT_FALSE(gateways.acquire(0xc0a80103u).has_value());  // full
  EXPECT_TRUE(gateways.release(*a, deferred));
  EXPECT_FALSE(gateways.acquire(0xc0a80103u).has_value());  // a still referenced
  EXPECT_TRUE(gateways.release(*a, deferred));
  EXPECT_FALSE(gateways.release(*a, deferred));  // no references left
  const auto c = gateways.acquire(0xc0a80103u);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(*c, *a);
  EXPECT_EQ(gateways.address(*c), 0xc0a80103u);
  EXPECT_EQ(gateways.in_use(), 2u);
}

}  // namespace
}  // namespace wghub::dp
