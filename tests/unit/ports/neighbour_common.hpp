// What the IPv4 and IPv6 neighbour tables share, checked once for both:
// the budget of incomplete entries (a stranger can make the hub resolve any
// number of addresses; those stop at a quarter of the table, so a real
// neighbour still finds room, and resolving one gives its place back).
#pragma once

#include <gtest/gtest.h>
#include <rte_ether.h>

#include <cstdint>
#include <cstring>

namespace wghub::dp {

// `host(i)`: the i-th address of the table's family.
template <typename Table, typename Host>
void check_incomplete_budget(Table& t, Host host) {
  auto mac_of = [](std::uint8_t byte) {
    rte_ether_addr m;
    std::memset(m.addr_bytes, byte, sizeof m.addr_bytes);
    return m;
  };
  const std::size_t budget = t.max_incomplete();
  ASSERT_EQ(budget, t.max_entries() / 4);
  for (std::uint32_t i = 1; i <= budget; ++i) EXPECT_TRUE(t.needs_request(host(i), 0)) << i;
  EXPECT_EQ(t.incomplete(), budget);
  EXPECT_FALSE(t.needs_request(host(1000), 0));
  EXPECT_FALSE(t.needs_request(host(1001), 0));
  EXPECT_EQ(t.incomplete_refused(), 2u);
  EXPECT_FALSE(t.contains(host(1000)));
  ASSERT_TRUE(t.update(host(2000), mac_of(0x20), 0)) << "a real neighbour is learned";
  ASSERT_TRUE(t.update(host(1), mac_of(0x01), 0)) << "an answer resolves an incomplete entry";
  EXPECT_EQ(t.incomplete(), budget - 1);
  EXPECT_TRUE(t.needs_request(host(1000), 0)) << "its place is free again";
  EXPECT_TRUE(t.remove(host(2)));
  EXPECT_EQ(t.incomplete(), budget - 1);
}

}  // namespace wghub::dp
