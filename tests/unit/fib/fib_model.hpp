// The FIB tests' shared machinery, for either address family: a naive
// longest-prefix-match model (every rule in a map, a lookup scans them all),
// random next hops, probe addresses inside, at the edges of and outside the
// model's rules, and the comparison of a table against the model, and the
// whole random-prefix test built from them (test_fib.cpp, test_fib6.cpp).
//
// A family is a traits struct:
//   Address, Table, Config          the address type (ordered), the FIB, its config
//   kBits, kMaxId                   address width, largest next-hop id the table keeps
//   kNextHopBits, encode, decode    the table's next-hop value: width, NextHop to it and back
//   mask(ip, depth)                 ip with the bits past depth cleared
//   with_host_bits(net, d, bits)    net with the bits past d taken from bits
//   all_ones(), next(ip)            the last address, ip + 1 (wrapping)
//   random(rng)                     a uniformly random address
//   format(ip), format(ip, depth)   for failure messages
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/fib.hpp"
#include "dataplane/rcu.hpp"

namespace wghub::dp {

template <class F>
using Prefix = std::pair<typename F::Address, unsigned>;  // network, depth

template <class F>
std::unique_ptr<typename F::Table> make_table(const std::string& name, Rcu* rcu,
                                              uint32_t tbl8_groups) {
  typename F::Config config;
  config.name = name;
  config.max_rules = 1u << 14;
  config.tbl8_groups = tbl8_groups;
  std::string error;
  auto fib = F::Table::create(config, rcu, error);
  EXPECT_NE(fib, nullptr) << error;
  return fib;
}

// Every kind with each of `ids` survives encode and decode, never as 0 (that
// is "no route") and within the table's next-hop width.
template <class F>
void expect_next_hop_round_trips(std::initializer_list<uint32_t> ids) {
  for (unsigned k = 1; k < kNextHopKindCount; ++k) {
    for (uint32_t id : ids) {
      const NextHop nh{static_cast<NextHopKind>(k), id};
      const uint32_t v = F::encode(nh);
      EXPECT_NE(v, 0u);
      EXPECT_LT(v, uint32_t{1} << F::kNextHopBits);
      EXPECT_EQ(F::decode(v), nh);
    }
  }
  EXPECT_FALSE(F::decode(0).found());
}

template <class F>
class NaiveFib {
 public:
  using Address = typename F::Address;

  void add(const Address& ip, unsigned depth, NextHop nh) {
    rules_[{F::mask(ip, depth), depth}] = nh;
  }
  bool remove(const Address& ip, unsigned depth) {
    return rules_.erase({F::mask(ip, depth), depth}) > 0;
  }
  NextHop lookup(const Address& ip) const {
    NextHop best;
    int best_depth = -1;
    for (const auto& [key, nh] : rules_) {
      const auto& [net, depth] = key;
      if (F::mask(ip, depth) == net && static_cast<int>(depth) > best_depth) {
        best = nh;
        best_depth = static_cast<int>(depth);
      }
    }
    return best;
  }
  std::vector<Prefix<F>> keys() const {
    std::vector<Prefix<F>> out;
    for (const auto& [key, nh] : rules_) out.push_back(key);
    return out;
  }
  std::size_t size() const { return rules_.size(); }
  std::optional<NextHop> rule(const Address& net, unsigned depth) const {
    auto it = rules_.find({net, depth});
    if (it == rules_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<Prefix<F>, NextHop> rules_;
};

template <class F>
NextHop random_next_hop(std::mt19937& rng) {
  std::uniform_int_distribution<unsigned> kind(1, kNextHopKindCount - 1);
  std::uniform_int_distribution<uint32_t> id(0, F::kMaxId);
  return NextHop{static_cast<NextHopKind>(kind(rng)), id(rng)};
}

inline std::string describe(NextHop nh) {
  return "{kind " + std::to_string(static_cast<unsigned>(nh.kind)) + ", id " +
         std::to_string(nh.id) + "}";
}

// Inside random rules (random host bits), their first and last address and
// the one just past the last, and uniformly random addresses.
template <class F>
std::vector<typename F::Address> probe_addresses(const NaiveFib<F>& model, std::mt19937& rng,
                                                 std::size_t count) {
  std::vector<typename F::Address> out;
  const auto keys = model.keys();
  while (out.size() < count) {
    if (keys.empty() || rng() % 4 == 0) {
      out.push_back(F::random(rng));
      continue;
    }
    const auto& [net, depth] = keys[rng() % keys.size()];
    if (rng() % 3 == 0) {
      const auto last = F::with_host_bits(net, depth, F::all_ones());
      out.push_back(net);
      out.push_back(last);
      out.push_back(F::next(last));
    } else {
      out.push_back(F::with_host_bits(net, depth, F::random(rng)));
    }
  }
  return out;
}

// lookup and lookup_bulk both answer as the model does (the first ten
// mismatches reported).
template <class F>
void expect_same(const typename F::Table& fib, const NaiveFib<F>& model,
                 const std::vector<typename F::Address>& ips) {
  std::vector<NextHop> bulk(ips.size());
  fib.lookup_bulk(ips.data(), bulk.data(), static_cast<unsigned>(ips.size()));
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < ips.size() && mismatches < 10; ++i) {
    const NextHop want = model.lookup(ips[i]);
    const NextHop got = fib.lookup(ips[i]);
    if (got != want || bulk[i] != want) {
      ++mismatches;
      ADD_FAILURE() << F::format(ips[i]) << ": model " << describe(want) << ", lookup "
                    << describe(got) << ", bulk " << describe(bulk[i]);
    }
  }
}

// The table against the model: `edges` and then random rules up to 3000, a
// third fully random and two thirds nested inside an earlier one (same
// leading bits, longer or equal length) so overlaps are everywhere; random
// lookups; next hops of some rules replaced (the newest wins); a random half
// removed (the /0 included with probability 1/2) and everything compared
// again; the shadow list against the model's rule set; clear().
template <class F>
void expect_matches_naive_model(typename F::Table& fib, std::mt19937& rng,
                                const std::vector<Prefix<F>>& edges) {
  NaiveFib<F> model;
  std::vector<Prefix<F>> added;
  auto add = [&](const typename F::Address& ip, unsigned depth) {
    const NextHop nh = random_next_hop<F>(rng);
    ASSERT_TRUE(fib.add(ip, static_cast<uint8_t>(depth), nh))
        << F::format(ip, depth) << ": " << fib.error();
    model.add(ip, depth, nh);
    added.emplace_back(F::mask(ip, depth), depth);
  };
  for (const auto& [ip, depth] : edges) {
    add(ip, depth);
    if (::testing::Test::HasFatalFailure()) return;
  }
  while (added.size() < 3000) {
    if (added.empty() || rng() % 3 == 0) {
      add(F::random(rng), rng() % (F::kBits + 1));
    } else {
      const auto [net, depth] = added[rng() % added.size()];
      const unsigned deeper = depth + static_cast<unsigned>(rng() % (F::kBits + 1 - depth));
      add(F::with_host_bits(net, depth, F::random(rng)), deeper);
    }
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_EQ(fib.size(), model.size());
  if constexpr (requires { fib.pending(); }) {
    EXPECT_FALSE(fib.pending());  // no RCU: every change is visible at once
  }

  const auto probes = probe_addresses(model, rng, 20000);
  expect_same(fib, model, probes);

  for (int i = 0; i < 100; ++i) {
    const auto [net, depth] = added[rng() % added.size()];
    const NextHop nh = random_next_hop<F>(rng);
    ASSERT_TRUE(fib.add(net, static_cast<uint8_t>(depth), nh));
    model.add(net, depth, nh);
    EXPECT_EQ(fib.rule(net, static_cast<uint8_t>(depth)), nh);
  }

  auto keys = model.keys();
  std::shuffle(keys.begin(), keys.end(), rng);
  keys.resize(keys.size() / 2);
  for (const auto& [net, depth] : keys) {
    ASSERT_TRUE(fib.remove(net, static_cast<uint8_t>(depth))) << F::format(net, depth);
    ASSERT_TRUE(model.remove(net, depth));
    EXPECT_FALSE(fib.rule(net, static_cast<uint8_t>(depth)).has_value());
  }
  EXPECT_EQ(fib.size(), model.size());
  expect_same(fib, model, probes);
  expect_same(fib, model, probe_addresses(model, rng, 20000));

  EXPECT_EQ(fib.routes().size(), model.size());
  for (const auto& r : fib.routes()) EXPECT_EQ(model.rule(r.ip, r.depth), r.next_hop);

  fib.clear();
  EXPECT_EQ(fib.size(), 0u);
  for (const auto& ip : probes) ASSERT_FALSE(fib.lookup(ip).found()) << F::format(ip);
}

}  // namespace wghub::dp
