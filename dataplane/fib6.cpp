// Fib6 (control-thread side): see fib6.hpp for the choice of
// rte_lpm6 and the double-buffered publication under RCU.
#include "dataplane/fib6.hpp"

#include <arpa/inet.h>
#include <rte_errno.h>

#include <cerrno>
#include <cstring>

#include "dataplane/rcu.hpp"

namespace wghub::dp {

namespace {

// rte_lpm6 names its rule hash after the table (RTE_LPM6_NAMESIZE 32).
constexpr std::size_t kMaxFib6NameLen = 24;

}  // namespace

std::string format_ipv6(const uint8_t* ip16) {
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(AF_INET6, ip16, text, sizeof text) == nullptr) return "?";
  return text;
}

std::string format_prefix6(const Ipv6Address& ip, uint8_t depth) {
  return format_ipv6(ip.data()) + "/" + std::to_string(depth);
}

Ipv6Address mask_ipv6(const Ipv6Address& ip, uint8_t depth) {
  Ipv6Address out{};
  for (unsigned byte = 0; byte < 16; ++byte) {
    const unsigned bits = depth >= (byte + 1) * 8 ? 8 : depth > byte * 8 ? depth - byte * 8 : 0;
    out[byte] = static_cast<uint8_t>(ip[byte] & (bits == 0 ? 0 : 0xff << (8 - bits)));
  }
  return out;
}

std::unique_ptr<Fib6> Fib6::create(const Fib6Config& config, Rcu* rcu, std::string& error) {
  if (!check_fib_config({"fib6", kMaxFib6NameLen, UINT32_MAX, UINT32_MAX}, config.name,
                        config.max_rules, config.tbl8_groups, rcu, error))
    return nullptr;
  std::array<rte_lpm6*, 2> tables{nullptr, nullptr};
  for (unsigned side = 0; side < 2; ++side) {
    rte_lpm6_config conf{};
    conf.max_rules = config.max_rules;
    conf.number_tbl8s = config.tbl8_groups;
    const std::string name = config.name + (side == 0 ? "_a" : "_b");
    tables[side] = rte_lpm6_create(name.c_str(), config.socket_id, &conf);
    if (tables[side] == nullptr) {
      error = "fib6 '" + name + "': rte_lpm6_create failed: " + rte_strerror(rte_errno);
      if (side == 1) rte_lpm6_free(tables[0]);
      return nullptr;
    }
  }
  auto fib = std::unique_ptr<Fib6>(new Fib6(tables, rcu));
  fib->max_rules_ = config.max_rules;
  return fib;
}

Fib6::~Fib6() {
  // The readers must be stopped (or past a grace period) by now.
  for (Side& side : sides_) rte_lpm6_free(side.lpm);
}

void Fib6::record(const Key& key, uint32_t value) {
  auto it = rules_.find(key);
  const uint32_t prev = it == rules_.end() ? 0 : it->second;
  ops_.push_back(Op{key, value, prev});
  if (value == 0) {
    rules_.erase(key);
  } else {
    rules_[key] = value;
  }
}

bool Fib6::add(const Ipv6Address& ip, uint8_t depth, NextHop nh) {
  if (depth > RTE_LPM6_MAX_DEPTH) {
    error_ = "prefix length " + std::to_string(depth) + " > 128";
    return false;
  }
  if (nh.kind == NextHopKind::kNone || static_cast<unsigned>(nh.kind) >= kNextHopKindCount ||
      nh.id > max_next_hop6_id(nh.kind)) {
    error_ = format_prefix6(ip, depth) + ": invalid next hop";
    return false;
  }
  const Key key{mask_ipv6(ip, depth), depth};
  const uint32_t value = encode_next_hop6(nh);
  auto it = rules_.find(key);
  if (it != rules_.end() && it->second == value) return true;
  if (it == rules_.end() && rules_.size() >= max_rules_) {
    error_ = format_prefix6(key.first, depth) + ": FIB full (rules)";
    return false;
  }
  const uint64_t index = op_end();
  record(key, value);
  const uint64_t failures = failed_ops_;
  publish();
  // Applied at once and refused (publish dropped it): the caller hears it.
  if (failed_ops_ != failures && last_failed_index_ == index) {
    --failed_ops_;
    if (!failures_.empty() && failures_.back().ip == key.first && failures_.back().depth == depth)
      failures_.pop_back();
    return false;
  }
  return true;
}

bool Fib6::remove(const Ipv6Address& ip, uint8_t depth) {
  if (depth > RTE_LPM6_MAX_DEPTH) return false;
  const Key key{mask_ipv6(ip, depth), depth};
  if (!rules_.contains(key)) return false;
  record(key, 0);
  publish();
  return true;
}

std::optional<NextHop> Fib6::rule(const Ipv6Address& ip, uint8_t depth) const {
  if (depth > RTE_LPM6_MAX_DEPTH) return std::nullopt;
  auto it = rules_.find(Key{mask_ipv6(ip, depth), depth});
  if (it == rules_.end()) return std::nullopt;
  return decode_next_hop6(it->second);
}

void Fib6::clear() {
  while (!rules_.empty()) {
    const Key k = rules_.begin()->first;
    record(k, 0);
  }
  publish();
}

bool Fib6::add_all(std::span<const Route6> routes) {
  for (const Route6& r : routes)
    if (!add(r.ip, r.depth, r.next_hop)) return false;
  return true;
}

std::vector<Route6> Fib6::routes() const {
  std::vector<Route6> out;
  out.reserve(rules_.size());
  for (const auto& [key, value] : rules_)
    out.push_back(Route6{key.first, key.second, decode_next_hop6(value)});
  return out;
}

bool Fib6::catch_up(unsigned side) {
  Side& t = sides_[side];
  bool all_ok = true;
  while (applied_[side] < op_end()) {
    const uint64_t index = applied_[side];
    const Op& op = ops_[index - op_base_];
    int rc = 0;
    if (op.key.second == 0) {
      t.default_value = op.value;
    } else if (op.value == 0) {
      rc = rte_lpm6_delete(t.lpm, op.key.first.data(), op.key.second);
      if (rc == -ENOENT) rc = 0;  // an add of it was refused earlier
    } else {
      rc = rte_lpm6_add(t.lpm, op.key.first.data(), op.key.second, op.value);
    }
    if (rc == 0) {
      ++applied_[side];
      continue;
    }
    // Only a new change can fail: the other table took every older one in
    // the same order from the same state.
    all_ok = false;
    ++failed_ops_;
    last_failed_index_ = index;
    error_ = format_prefix6(op.key.first, op.key.second) + ": " +
             (rc == -ENOSPC ? std::string("FIB full (rules or tbl8 groups)")
                            : std::string("rte_lpm6: ") + std::strerror(-rc));
    bool later_same_key = false;
    for (uint64_t j = index + 1; j < op_end(); ++j)
      if (ops_[j - op_base_].key == op.key) later_same_key = true;
    if (!later_same_key) {  // else the later change decides, and is reported
      if (op.prev == 0) {
        rules_.erase(op.key);
      } else {
        rules_[op.key] = op.prev;
      }
      failures_.push_back({op.key.first, op.key.second, decode_next_hop6(op.value),
                           op.prev == 0 ? std::nullopt : std::optional(decode_next_hop6(op.prev))});
    }
    ops_.erase(ops_.begin() + static_cast<std::ptrdiff_t>(index - op_base_));
    // Entries past it moved down by one: so do the indices that point past it.
    const unsigned other = 1 - side;
    if (applied_[other] > index) --applied_[other];
    for (auto& [at, fn] : waiting_)
      if (at > index) --at;
  }
  return all_ok;
}

bool Fib6::publish() {
  const unsigned standby = 1 - active_index_;
  if (pending()) {
    if (rcu_ != nullptr && standby_token_valid_ && !rcu_->check(standby_token_)) return false;
    catch_up(standby);
    if (applied_[standby] > applied_[active_index_]) {
      // Swap in the table that is now current: readers move to it (release
      // pairs with lookup's acquire); the old one has readers until a grace
      // period has passed.
      active_.store(&sides_[standby], std::memory_order_release);
      active_index_ = standby;
      if (rcu_ != nullptr) {
        standby_token_ = rcu_->start();
        standby_token_valid_ = true;
      }
    }
    // Trim what both tables have.
    const uint64_t both = std::min(applied_[0], applied_[1]);
    while (op_base_ < both) {
      ops_.pop_front();
      ++op_base_;
    }
  }
  while (!waiting_.empty() && waiting_.front().first <= applied_[active_index_]) {
    auto fn = std::move(waiting_.front().second);
    waiting_.pop_front();
    fn();
  }
  return !pending();
}

void Fib6::when_published(std::function<void()> fn) {
  if (!pending() && waiting_.empty()) {
    fn();
    return;
  }
  waiting_.emplace_back(op_end(), std::move(fn));
}

}  // namespace wghub::dp
