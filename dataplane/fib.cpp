// Fib (control-thread side) and LanGateways: see fib.hpp for the concurrency
// model and the choice of RTE_LPM_QSBR_MODE_DQ.

// rte_lpm_rcu_qsbr_add is still marked experimental in DPDK 22.11; this file is
// the only user, so the opt-in stays here rather than in the build flags.
#define ALLOW_EXPERIMENTAL_API 1

#include "dataplane/fib.hpp"

#include <rte_errno.h>
#include <rte_lpm.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "dataplane/rcu.hpp"

namespace wghub::dp {

namespace {

// rte_lpm names its RCU defer queue "LPM_RCU_<name>" and that ring's name has
// to fit RTE_RING_NAMESIZE with its own prefix; keep ours short.
constexpr std::size_t kMaxFibNameLen = 12;

uint32_t mask_of(uint8_t depth) {
  return depth == 0 ? 0 : ~uint32_t{0} << (32 - depth);
}

}  // namespace

std::string format_prefix(uint32_t ip, uint8_t depth) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u/%u", (ip >> 24) & 0xff, (ip >> 16) & 0xff,
                (ip >> 8) & 0xff, ip & 0xff, static_cast<unsigned>(depth));
  return buf;
}

std::unique_ptr<Fib> Fib::create(const FibConfig& config, Rcu* rcu, std::string& error) {
  if (config.name.empty() || config.name.size() > kMaxFibNameLen) {
    error = "fib name '" + config.name + "' must be 1.." + std::to_string(kMaxFibNameLen) +
            " characters";
    return nullptr;
  }
  if (config.max_rules == 0 || config.tbl8_groups == 0) {
    error = "fib '" + config.name + "': max_rules and tbl8_groups must be positive";
    return nullptr;
  }
  rte_lpm_config lpm_config{};
  lpm_config.max_rules = config.max_rules;
  lpm_config.number_tbl8s = config.tbl8_groups;
  rte_lpm* lpm = rte_lpm_create(config.name.c_str(), config.socket_id, &lpm_config);
  if (lpm == nullptr) {
    error = "fib '" + config.name + "': rte_lpm_create failed: " + rte_strerror(rte_errno);
    return nullptr;
  }
  if (rcu != nullptr) {
    if (!rcu->initialized()) {
      rte_lpm_free(lpm);
      error = "fib '" + config.name + "': RCU not initialised";
      return nullptr;
    }
    rte_lpm_rcu_config rcu_config{};
    rcu_config.v = rcu->raw();
    rcu_config.mode = RTE_LPM_QSBR_MODE_DQ;
    rcu_config.dq_size = 0;      // default: one slot per tbl8 group, so never full
    rcu_config.reclaim_thd = 0;  // try a non-blocking reclaim on every group freed
    rcu_config.reclaim_max = 0;  // default batch
    if (rte_lpm_rcu_qsbr_add(lpm, &rcu_config) != 0) {
      error = "fib '" + config.name + "': rte_lpm_rcu_qsbr_add failed: " + rte_strerror(rte_errno);
      rte_lpm_free(lpm);
      return nullptr;
    }
  }
  return std::unique_ptr<Fib>(new Fib(lpm, rcu));
}

Fib::~Fib() {
  // Let the defer queue drain so rte_lpm_free releases it; the readers must
  // already be stopped or still reporting quiescent states.
  if (rcu_ != nullptr) rcu_->synchronize();
  rte_lpm_free(lpm_);
}

bool Fib::add(uint32_t ip, uint8_t depth, NextHop nh) {
  if (depth > RTE_LPM_MAX_DEPTH) {
    error_ = "prefix length " + std::to_string(depth) + " > 32";
    return false;
  }
  if (nh.kind == NextHopKind::kNone || static_cast<unsigned>(nh.kind) >= kNextHopKindCount ||
      nh.id > kMaxNextHopId) {
    error_ = format_prefix(ip, depth) + ": invalid next hop";
    return false;
  }
  const uint32_t masked = ip & mask_of(depth);
  const uint32_t value = encode_next_hop(nh);
  if (depth == 0) {
    default_hop_.store(value, std::memory_order_relaxed);
  } else {
    int rc = rte_lpm_add(lpm_, masked, depth, value);
    if (rc == -ENOSPC && rcu_ != nullptr) {
      // Every free tbl8 group may be sitting in the defer queue: after a grace
      // period rte_lpm's allocator can reclaim them.
      rcu_->synchronize();
      rc = rte_lpm_add(lpm_, masked, depth, value);
    }
    if (rc != 0) {
      error_ = format_prefix(masked, depth) + ": " +
               (rc == -ENOSPC ? std::string("FIB full (rules or tbl8 groups)")
                              : std::string("rte_lpm_add: ") + std::strerror(-rc));
      return false;
    }
  }
  rules_[key(masked, depth)] = value;
  return true;
}

bool Fib::remove(uint32_t ip, uint8_t depth) {
  if (depth > RTE_LPM_MAX_DEPTH) return false;
  const uint32_t masked = ip & mask_of(depth);
  auto it = rules_.find(key(masked, depth));
  if (it == rules_.end()) return false;
  if (depth == 0) {
    default_hop_.store(0, std::memory_order_relaxed);
  } else if (rte_lpm_delete(lpm_, masked, depth) != 0) {
    error_ = format_prefix(masked, depth) + ": rte_lpm_delete failed";
    return false;
  }
  rules_.erase(it);
  return true;
}

std::optional<NextHop> Fib::rule(uint32_t ip, uint8_t depth) const {
  if (depth > RTE_LPM_MAX_DEPTH) return std::nullopt;
  auto it = rules_.find(key(ip & mask_of(depth), depth));
  if (it == rules_.end()) return std::nullopt;
  return decode_next_hop(it->second);
}

void Fib::clear() {
  // Rule by rule rather than rte_lpm_delete_all: that one memsets the tables,
  // which is neither per-entry atomic nor RCU-deferred for tbl8 groups.
  while (!rules_.empty()) {
    const uint64_t k = rules_.begin()->first;
    remove(static_cast<uint32_t>(k >> 8), static_cast<uint8_t>(k & 0xff));
  }
}

bool Fib::add_all(std::span<const Route> routes) {
  for (const Route& r : routes) {
    if (!add(r.ip, r.depth, r.next_hop)) return false;
  }
  return true;
}

std::vector<Route> Fib::routes() const {
  std::vector<Route> out;
  out.reserve(rules_.size());
  for (const auto& [k, value] : rules_) {
    out.push_back(Route{static_cast<uint32_t>(k >> 8), static_cast<uint8_t>(k & 0xff),
                        decode_next_hop(value)});
  }
  return out;
}

LanGateways::LanGateways(uint32_t capacity) : entries_(capacity) {}

std::optional<uint32_t> LanGateways::acquire(uint32_t via) {
  std::optional<uint32_t> free_id;
  for (uint32_t id = 0; id < entries_.size(); ++id) {
    Entry& e = entries_[id];
    if (e.refs > 0 && e.address.load(std::memory_order_relaxed) == via) {
      ++e.refs;
      return id;
    }
    if (e.refs == 0 && !e.retiring && !free_id) free_id = id;
  }
  if (!free_id) return std::nullopt;
  Entry& e = entries_[*free_id];
  // Set before any route carrying this id is added (rte_lpm_add is an opaque
  // call after this store; x86 keeps stores in order).
  e.address.store(via, std::memory_order_release);
  e.refs = 1;
  ++in_use_;
  return free_id;
}

bool LanGateways::release(uint32_t id, DeferredFree& deferred) {
  if (id >= entries_.size() || entries_[id].refs == 0) return false;
  Entry& e = entries_[id];
  if (--e.refs > 0) return true;
  // A worker may have looked up a route with this id just before it was
  // removed: keep the address until a grace period has passed.
  e.retiring = true;
  deferred.retire([this, id] {
    entries_[id].retiring = false;
    --in_use_;
  });
  return true;
}

}  // namespace wghub::dp
