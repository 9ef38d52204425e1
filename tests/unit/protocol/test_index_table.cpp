// Session index table: unique random indices, collisions redrawn with a fake
// RNG that repeats itself, and the insert / replace / lookup / remove contract.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "control/index_table.hpp"

namespace wghub::ctl {
namespace {

// Yields the given values in order, then repeats the last one forever.
IndexRng scripted(std::vector<uint32_t> values) {
  auto state = std::make_shared<std::pair<std::vector<uint32_t>, size_t>>(std::move(values), 0);
  return [state] {
    auto& [v, pos] = *state;
    const uint32_t out = v[pos];
    if (pos + 1 < v.size()) ++pos;
    return out;
  };
}

TEST(IndexTable, ManyInsertsAreUniqueNonZeroAndFindable) {
  IndexTable<uint32_t> table;  // libsodium RNG
  constexpr uint32_t kCount = 100'000;
  std::unordered_set<uint32_t> seen;
  std::vector<uint32_t> indices;
  for (uint32_t n = 0; n < kCount; ++n) {
    const auto index = table.insert(n);
    ASSERT_TRUE(index.has_value());
    EXPECT_NE(*index, IndexTable<uint32_t>::kNoIndex);
    EXPECT_TRUE(seen.insert(*index).second) << "duplicate index " << *index;
    indices.push_back(*index);
  }
  EXPECT_EQ(table.size(), kCount);
  for (uint32_t n = 0; n < kCount; ++n) {
    const uint32_t* v = table.lookup(indices[n]);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(*v, n);
  }
}

TEST(IndexTable, UniqueUnderASmallRandomSpace) {
  // An RNG drawing from only 64 values forces frequent collisions; every live
  // index must still be distinct.
  uint32_t x = 12345;
  IndexTable<int> table([&x] {
    x = x * 1103515245u + 12345u;
    return (x >> 16) % 64;
  });
  std::unordered_set<uint32_t> seen;
  for (int n = 0; n < 63; ++n) {
    const auto index = table.insert(n);
    ASSERT_TRUE(index.has_value()) << n;
    EXPECT_NE(*index, 0u);
    EXPECT_TRUE(seen.insert(*index).second);
  }
  EXPECT_EQ(table.size(), 63u);
}

TEST(IndexTable, CollisionSkipsToANewValue) {
  IndexTable<std::string> table(scripted({5, 5, 5, 7, 7, 9}));
  EXPECT_EQ(table.insert("first"), 5u);
  EXPECT_EQ(table.insert("second"), 7u);  // 5 twice more, then 7
  EXPECT_EQ(table.insert("third"), 9u);   // 7 again, then 9
  EXPECT_EQ(*table.lookup(5), "first");
  EXPECT_EQ(*table.lookup(7), "second");
  EXPECT_EQ(*table.lookup(9), "third");
}

TEST(IndexTable, ZeroIsNeverHandedOut) {
  IndexTable<int> table(scripted({0, 0, 42}));
  EXPECT_EQ(table.insert(1), 42u);
  EXPECT_EQ(table.lookup(0), nullptr);
}

TEST(IndexTable, GivesUpWhenTheRngOnlyCollides) {
  IndexTable<int> table(scripted({3}));
  EXPECT_EQ(table.insert(1), 3u);
  EXPECT_EQ(table.insert(2), std::nullopt);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(*table.lookup(3), 1);
}

TEST(IndexTable, FailedDrawsDoNotConsumeAMoveOnlyValue) {
  IndexTable<std::unique_ptr<int>> table(scripted({8, 8, 8, 11}));
  ASSERT_EQ(table.insert(std::make_unique<int>(1)), 8u);
  ASSERT_EQ(table.insert(std::make_unique<int>(2)), 11u);
  ASSERT_NE(table.lookup(11), nullptr);
  ASSERT_NE(*table.lookup(11), nullptr);
  EXPECT_EQ(**table.lookup(11), 2);
}

TEST(IndexTable, RemoveThenLookupFails) {
  IndexTable<int> table(scripted({21, 22, 21}));
  ASSERT_EQ(table.insert(1), 21u);
  ASSERT_EQ(table.insert(2), 22u);
  EXPECT_TRUE(table.remove(21));
  EXPECT_EQ(table.lookup(21), nullptr);
  EXPECT_FALSE(table.remove(21));
  EXPECT_EQ(*table.lookup(22), 2);
  EXPECT_EQ(table.size(), 1u);
  // A removed index may be drawn again.
  EXPECT_EQ(table.insert(3), 21u);
  EXPECT_EQ(*table.lookup(21), 3);
}

TEST(IndexTable, ReplaceKeepsTheIndex) {
  struct Handle {
    enum class Kind { kHandshake, kKeypair } kind;
    uint32_t slot;
  };
  IndexTable<Handle> table(scripted({77}));
  const auto index = table.insert({Handle::Kind::kHandshake, 4});
  ASSERT_EQ(index, 77u);
  EXPECT_TRUE(table.replace(77, {Handle::Kind::kKeypair, 9}));
  EXPECT_EQ(table.size(), 1u);
  const Handle* h = table.lookup(77);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->kind, Handle::Kind::kKeypair);
  EXPECT_EQ(h->slot, 9u);
}

TEST(IndexTable, ReplaceOfAMissingIndexInsertsNothing) {
  IndexTable<int> table(scripted({1}));
  EXPECT_FALSE(table.replace(5, 10));
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.lookup(5), nullptr);
}

}  // namespace
}  // namespace wghub::ctl
