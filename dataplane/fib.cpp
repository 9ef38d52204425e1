// Fib (control-thread side): see fib.hpp for the choice of
// rte_fib, the table value and the concurrency model (the group-reuse gate).

#include "dataplane/fib.hpp"

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_rib.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "dataplane/rcu.hpp"

namespace wghub::dp {

namespace {

// Names stay short: rte_fib derives its trie's and memory's names from it.
constexpr std::size_t kMaxFibNameLen = 12;

// The header of DPDK 22.11's `struct dir24_8_tbl` (lib/fib/dir24_8.h, not
// installed), what rte_fib_get_dp() points to; the first-level table follows
// at the next cache line. Fib::create checks this against the library with
// probe routes (check_layout) and refuses to run if it does not match.
struct Dir24_8Header {
  uint32_t number_tbl8s;  // groups allocated (a multiple of 64)
  uint32_t rsvd_tbl8s;    // groups promised to /24s with long prefixes
  uint32_t cur_tbl8s;     // groups in use
  rte_fib_dir24_8_nh_sz nh_sz;
  uint64_t def_nh;
  uint64_t* tbl8;
  uint64_t* tbl8_idxes;
};
static_assert(sizeof(Dir24_8Header) == 40);
constexpr std::size_t kTbl24Offset = RTE_ALIGN_CEIL(sizeof(Dir24_8Header), RTE_CACHE_LINE_SIZE);

Dir24_8Header* header(void* dp) {
  return static_cast<Dir24_8Header*>(dp);
}

uint32_t mask_of(uint8_t depth) {
  return depth == 0 ? 0 : ~uint32_t{0} << (32 - depth);
}

constexpr uint8_t kFirstLevelDepth = 24;

uint32_t table_value_of(NextHop nh, uint8_t depth) {
  return encode_next_hop(nh) | (uint32_t{depth} << 24);
}

// The probe: a /24 and a /32 inside it (TEST-NET-1), looked up through the
// mirrored layout and through rte_fib's own lookup, then removed again.
bool check_layout(rte_fib* fib, void* dp, uint32_t expect_groups, std::string& why) {
  Dir24_8Header* h = header(dp);
  if (h->nh_sz != RTE_FIB_DIR24_8_4B || h->def_nh != 0 || h->cur_tbl8s != 0 ||
      h->number_tbl8s != expect_groups || h->tbl8 == nullptr || h->tbl8_idxes == nullptr) {
    why = "header fields";
    return false;
  }
  const auto* tbl24 = reinterpret_cast<const uint32_t*>(static_cast<char*>(dp) + kTbl24Offset);
  const auto* tbl8 = reinterpret_cast<const uint32_t*>(h->tbl8);
  auto mirrored = [&](uint32_t ip) -> uint64_t {
    uint32_t e = tbl24[ip >> 8];
    if (e & 1) e = tbl8[(e >> 1) * 256u + (ip & 0xffu)];
    return e >> 1;
  };
  constexpr uint32_t kNet = 0xc0000200u;  // 192.0.2.0/24
  bool ok =
      rte_fib_add(fib, kNet, 24, 0x123456) == 0 && rte_fib_add(fib, kNet | 1, 32, 0x654321) == 0;
  uint32_t ips[3] = {kNet | 1, kNet | 2, 0xc0000301u};
  uint64_t want[3] = {0x654321, 0x123456, 0};
  uint64_t got[3] = {};
  ok = ok && rte_fib_lookup_bulk(fib, ips, got, 3) == 0 && h->cur_tbl8s == 1;
  for (int i = 0; i < 3; ++i) ok = ok && got[i] == want[i] && mirrored(ips[i]) == want[i];
  ok = rte_fib_delete(fib, kNet | 1, 32) == 0 && ok;
  ok = rte_fib_delete(fib, kNet, 24) == 0 && ok;
  ok = ok && h->cur_tbl8s == 0 && h->rsvd_tbl8s == 0 && mirrored(kNet | 1) == 0;
  if (!ok) why = "probe routes";
  return ok;
}

}  // namespace

std::string format_prefix(uint32_t ip, uint8_t depth) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u/%u", (ip >> 24) & 0xff, (ip >> 16) & 0xff,
                (ip >> 8) & 0xff, ip & 0xff, static_cast<unsigned>(depth));
  return buf;
}

bool check_fib_config(const FibLimits& limits, const std::string& name, uint32_t max_rules,
                      uint32_t tbl8_groups, const Rcu* rcu, std::string& error) {
  const std::string kind = limits.kind;
  if (name.empty() || name.size() > limits.max_name) {
    error =
        kind + " name '" + name + "' must be 1.." + std::to_string(limits.max_name) + " characters";
    return false;
  }
  if (max_rules == 0 || tbl8_groups == 0 || max_rules > limits.max_rules ||
      tbl8_groups > limits.max_groups) {
    error = kind + " '" + name + "': max_rules (1.." + std::to_string(limits.max_rules) +
            ") or tbl8_groups (1.." + std::to_string(limits.max_groups) + ") out of range";
    return false;
  }
  if (rcu != nullptr && !rcu->initialized()) {
    error = kind + " '" + name + "': RCU not initialised";
    return false;
  }
  return true;
}

std::unique_ptr<Fib> Fib::create(const FibConfig& config, Rcu* rcu, std::string& error) {
  if (!check_fib_config({"fib", kMaxFibNameLen, 1u << 30, 1u << 24}, config.name, config.max_rules,
                        config.tbl8_groups, rcu, error))
    return nullptr;
  rte_fib_conf conf{};
  conf.type = RTE_FIB_DIR24_8;
  conf.default_nh = 0;  // "no route": the /0 is kept beside the table
  // The probe routes need two rules and a group of their own at create time.
  conf.max_routes = static_cast<int>(config.max_rules < 2 ? 2 : config.max_rules);
  conf.dir24_8.nh_sz = RTE_FIB_DIR24_8_4B;
  conf.dir24_8.num_tbl8 = config.tbl8_groups;
  rte_fib* table = rte_fib_create(config.name.c_str(), config.socket_id, &conf);
  if (table == nullptr) {
    error = "fib '" + config.name + "': rte_fib_create failed: " + rte_strerror(rte_errno);
    return nullptr;
  }
  void* dp = rte_fib_get_dp(table);
  std::string why;
  if (dp == nullptr || rte_fib_get_rib(table) == nullptr ||
      !check_layout(table, dp, RTE_ALIGN_CEIL(config.tbl8_groups, 64u), why)) {
    rte_fib_free(table);
    error = "fib '" + config.name +
            "': rte_fib's DIR24_8 table is not laid out as fib.cpp expects (" + why +
            "): a DPDK other than 22.11?";
    return nullptr;
  }
  std::unique_ptr<Fib> fib(new Fib());
  fib->fib_ = table;
  fib->rib_ = rte_fib_get_rib(table);
  fib->dp_ = dp;
  fib->tbl24_ = reinterpret_cast<const uint32_t*>(static_cast<char*>(dp) + kTbl24Offset);
  fib->tbl8_ = reinterpret_cast<const uint32_t*>(header(dp)->tbl8);
  fib->rcu_ = rcu;
  fib->max_rules_ = config.max_rules;
  fib->max_groups_ = config.tbl8_groups;
  return fib;
}

std::size_t Fib::memory_bytes(const FibConfig& config) {
  const std::size_t groups = RTE_ALIGN_CEIL(std::size_t{config.tbl8_groups}, 64u) + 1;
  return (std::size_t{64} << 20) + groups * 1024 + groups / 8 + std::size_t{config.max_rules} * 512;
}

Fib::~Fib() {
  // The readers must already be stopped or still reporting quiescent states.
  if (rcu_ != nullptr) release_held(true);
  rte_fib_free(fib_);
}

bool Fib::contains_top(uint32_t masked, uint8_t depth) {
  return (masked | ~mask_of(depth)) == ~uint32_t{0};
}

void Fib::publish_top() {
  uint32_t best = 0;
  for (unsigned k = 0; k <= 32; ++k) {
    if (top_rules_[k] != 0) best = top_rules_[k];
    top_best_[k].store(best, std::memory_order_relaxed);
  }
}

std::size_t Fib::rules_against_limit() const {
  return table_rules_ + top_count_ - (top_rules_[0] != 0 ? 1 : 0);  // the /0 never counted
}

// Whether the trie holds a rule longer than /24 at or under masked/depth.
bool Fib::has_long_rule_under(uint32_t masked, uint8_t depth) const {
  rte_rib_node* node = nullptr;
  while ((node = rte_rib_get_nxt(rib_, masked, depth, node, RTE_RIB_GET_NXT_COVER)) != nullptr) {
    uint8_t d = 0;
    rte_rib_get_depth(node, &d);
    if (d > kFirstLevelDepth) return true;
  }
  return false;
}

// A tbl8 group a change freed is held: marked used again in rte_fib's
// allocation bitmap (so the next allocation cannot take it) until the grace
// period that began when it was freed has passed (fib.hpp, Concurrency).
void Fib::hold_group(uint32_t group) {
  Dir24_8Header* h = header(dp_);
  uint64_t& word = h->tbl8_idxes[group >> 6];
  const uint64_t bit = uint64_t{1} << (group & 63);
  if ((word & bit) != 0) return;  // in use again already: nothing to hold
  word |= bit;
  ++h->cur_tbl8s;
  held_.push_back(HeldGroup{group, rcu_->start()});
}

void Fib::release_held(bool wait) {
  if (wait && !held_.empty()) rcu_->synchronize();
  Dir24_8Header* h = header(dp_);
  while (!held_.empty() && (wait || rcu_->check(held_.front().token))) {
    const uint32_t group = held_.front().group;
    h->tbl8_idxes[group >> 6] &= ~(uint64_t{1} << (group & 63));
    --h->cur_tbl8s;
    held_.pop_front();
  }
}

Fib::Change Fib::before_change(uint32_t masked, uint8_t depth) {
  Change c;
  if (rcu_ != nullptr) release_held(false);
  c.covered_long = depth <= kFirstLevelDepth && has_long_rule_under(masked, depth);
  if (depth > kFirstLevelDepth) c.first = tbl24_[masked >> 8];
  // A shorter prefix over long ones may free groups we do not track one by
  // one: the next change that may allocate waits out a grace period instead.
  const bool may_allocate = depth > kFirstLevelDepth ? (c.first & kExtended) == 0 : c.covered_long;
  if (may_allocate && free_pending_ && rcu_ != nullptr) {
    if (!rcu_->check(free_token_)) rcu_->synchronize();
    free_pending_ = false;
  }
  // rte_fib 22.11 keeps a count of groups promised to /24s and refuses a long
  // prefix in a new /24 when it reaches the total; its bookkeeping drifts
  // (a /24 rule over the /32s hides them from it, and its count wraps below
  // 0). add() checks the limit itself (long_nets_), so the count stays 0.
  header(dp_)->rsvd_tbl8s = 0;
  return c;
}

void Fib::after_change(uint32_t masked, uint8_t depth, const Change& c) {
  if (rcu_ == nullptr) return;
  if (depth > kFirstLevelDepth) {
    // A long prefix's change touches only its own /24's group.
    const uint32_t now = tbl24_[masked >> 8];
    if ((c.first & kExtended) != 0 && now != c.first) {
      hold_group(c.first >> 1);
    } else if ((c.first & kExtended) == 0 && (now & kExtended) == 0) {
      // Allocated and freed within the change (not expected with depths in
      // the values, but then the group is unknown): treat as a shorter prefix.
      free_pending_ = true;
      free_token_ = rcu_->start();
    }
  } else if (c.covered_long) {
    free_pending_ = true;
    free_token_ = rcu_->start();
  }
}

bool Fib::add(uint32_t ip, uint8_t depth, NextHop nh) {
  if (depth > RTE_FIB_MAXDEPTH) {
    error_ = "prefix length " + std::to_string(depth) + " > 32";
    return false;
  }
  if (nh.kind == NextHopKind::kNone || static_cast<unsigned>(nh.kind) >= kNextHopKindCount ||
      nh.id > kMaxNextHopId) {
    error_ = format_prefix(ip, depth) + ": invalid next hop";
    return false;
  }
  const uint32_t masked = ip & mask_of(depth);
  const uint32_t value = table_value_of(nh, depth);
  if (contains_top(masked, depth)) {
    if (top_rules_[depth] == 0) {
      if (depth > 0 && rules_against_limit() >= max_rules_) {
        error_ =
            format_prefix(masked, depth) + ": FIB full (" + std::to_string(max_rules_) + " rules)";
        return false;
      }
      ++top_count_;
    }
    top_rules_[depth] = value;
    publish_top();
    return true;
  }
  rte_rib_node* existing = rte_rib_lookup_exact(rib_, masked, depth);
  if (existing == nullptr && rules_against_limit() >= max_rules_) {
    error_ = format_prefix(masked, depth) + ": FIB full (" + std::to_string(max_rules_) + " rules)";
    return false;
  }
  const bool long_prefix = depth > kFirstLevelDepth;
  const uint32_t net = masked & mask_of(kFirstLevelDepth);
  const bool new_long_net =
      long_prefix && existing == nullptr && !has_long_rule_under(net, kFirstLevelDepth);
  if (new_long_net && long_nets_ >= max_groups_) {
    error_ = format_prefix(masked, depth) + ": FIB full (" + std::to_string(max_groups_) +
             " tbl8 groups for prefixes longer than /24)";
    return false;
  }
  Change change = before_change(masked, depth);
  int rc = rte_fib_add(fib_, masked, depth, value);
  if (rc == -ENOSPC && !held_.empty()) {
    // Every free group may be held for a grace period: wait for it, retry.
    after_change(masked, depth, change);
    release_held(true);
    change = before_change(masked, depth);
    rc = rte_fib_add(fib_, masked, depth, value);
  }
  if (rc == 0 && existing != nullptr) {
    // 22.11 answers 0 when replacing a rule's next hop fails for want of a
    // group; the trie then keeps the old one.
    uint64_t now = 0;
    rte_rib_get_nh(existing, &now);
    if (now != value) rc = -ENOSPC;
  }
  after_change(masked, depth, change);
  if (rc != 0) {
    error_ = format_prefix(masked, depth) + ": " +
             (rc == -ENOSPC ? std::string("FIB full (rules or tbl8 groups)")
                            : std::string("rte_fib_add: ") + std::strerror(-rc));
    return false;
  }
  if (existing == nullptr) {
    ++table_rules_;
    if (new_long_net) ++long_nets_;
  }
  return true;
}

bool Fib::remove(uint32_t ip, uint8_t depth) {
  if (depth > RTE_FIB_MAXDEPTH) return false;
  const uint32_t masked = ip & mask_of(depth);
  if (contains_top(masked, depth)) {
    if (top_rules_[depth] == 0) return false;
    top_rules_[depth] = 0;
    --top_count_;
    publish_top();
    return true;
  }
  if (rte_rib_lookup_exact(rib_, masked, depth) == nullptr) return false;
  const Change change = before_change(masked, depth);
  const int rc = rte_fib_delete(fib_, masked, depth);
  after_change(masked, depth, change);
  if (rc != 0) {
    error_ = format_prefix(masked, depth) + ": rte_fib_delete: " + std::strerror(-rc);
    return false;
  }
  --table_rules_;
  if (depth > kFirstLevelDepth &&
      !has_long_rule_under(masked & mask_of(kFirstLevelDepth), kFirstLevelDepth)) {
    --long_nets_;
  }
  return true;
}

std::optional<NextHop> Fib::rule(uint32_t ip, uint8_t depth) const {
  if (depth > RTE_FIB_MAXDEPTH) return std::nullopt;
  const uint32_t masked = ip & mask_of(depth);
  if (contains_top(masked, depth)) {
    if (top_rules_[depth] == 0) return std::nullopt;
    return decode_next_hop(top_rules_[depth] & kNextHopMask);
  }
  rte_rib_node* node = rte_rib_lookup_exact(rib_, masked, depth);
  if (node == nullptr) return std::nullopt;
  uint64_t value = 0;
  rte_rib_get_nh(node, &value);
  return decode_next_hop(static_cast<uint32_t>(value) & kNextHopMask);
}

void Fib::clear() {
  // Rule by rule: each change goes through the group-reuse gate.
  for (const Route& r : routes()) remove(r.ip, r.depth);
}

bool Fib::add_all(std::span<const Route> routes) {
  for (const Route& r : routes) {
    if (!add(r.ip, r.depth, r.next_hop)) return false;
  }
  return true;
}

std::vector<Route> Fib::routes() const {
  std::vector<Route> out;
  out.reserve(size());
  for (unsigned depth = 0; depth <= 32; ++depth) {
    if (top_rules_[depth] == 0) continue;
    const auto d = static_cast<uint8_t>(depth);
    out.push_back(Route{mask_of(d), d, decode_next_hop(top_rules_[depth] & kNextHopMask)});
  }
  rte_rib_node* node = nullptr;
  while ((node = rte_rib_get_nxt(rib_, 0, 0, node, RTE_RIB_GET_NXT_ALL)) != nullptr) {
    uint32_t ip = 0;
    uint8_t depth = 0;
    uint64_t value = 0;
    rte_rib_get_ip(node, &ip);
    rte_rib_get_depth(node, &depth);
    rte_rib_get_nh(node, &value);
    out.push_back(Route{ip, depth, decode_next_hop(static_cast<uint32_t>(value) & kNextHopMask)});
  }
  return out;
}

}  // namespace wghub::dp
