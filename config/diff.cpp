// See diff.hpp.
#include "config/diff.hpp"

#include "crypto/secret.hpp"

namespace wghub::config {

namespace {

// A field added to these structs must be compared below (and named in the
// restart list or applied live): the sizes catch an addition at compile time.
// Update the number once diff() compares the new field.
static_assert(sizeof(Interface) == 112, "a field was added to config::Interface: diff it");
static_assert(sizeof(Port) == 152, "a field was added to config::Port: diff it");
static_assert(sizeof(Dataplane) == 32, "a field was added to config::Dataplane: diff it");
static_assert(sizeof(Metrics) == 36, "a field was added to config::Metrics: diff it");
static_assert(sizeof(Store) == 376, "a field was added to config::Store: diff it");
static_assert(sizeof(Peer) == 200, "a field was added to config::Peer: diff it");
// `sites` (and peers_dir, whose files are the peers) are not compared: only
// `wghub site` reads them, at each command; a reload takes them as they are.
static_assert(sizeof(Sites) == 88,
              "a field was added to config::Sites: decide whether the hub uses it");

bool same_key(const std::shared_ptr<const crypto::Key>& a,
              const std::shared_ptr<const crypto::Key>& b) {
  if (!a || !b) return !a && !b;
  return crypto::equal_ct(a->data(), b->data(), a->size());
}

class RestartList {
 public:
  explicit RestartList(std::vector<std::string>& out) : out_(out) {}
  template <typename T>
  void check(const T& running, const T& next, const std::string& field) {
    if (!(running == next)) out_.push_back(field);
  }

 private:
  std::vector<std::string>& out_;
};

void diff_port(RestartList& r, const Port& a, const Port& b, const std::string& path) {
  r.check(a.devargs, b.devargs, path + ".devargs");
  r.check(a.address, b.address, path + ".address");
  r.check(a.gateway, b.gateway, path + ".gateway");
  r.check(a.address6, b.address6, path + ".address6");
  r.check(a.gateway6, b.gateway6, path + ".gateway6");
  r.check(a.routes, b.routes, path + ".routes");
}

std::vector<std::string> peer_fields(const Peer& a, const Peer& b) {
  std::vector<std::string> f;
  if (a.name != b.name) f.push_back("name");
  if (!same_key(a.preshared_key, b.preshared_key)) f.push_back("preshared_key");
  if (a.allowed_ips != b.allowed_ips) f.push_back("allowed_ips");
  if (a.endpoint != b.endpoint) f.push_back("endpoint");
  if (a.persistent_keepalive != b.persistent_keepalive) f.push_back("persistent_keepalive");
  return f;
}

}  // namespace

StateDiff diff(const DesiredState& running, const DesiredState& next) {
  StateDiff d;
  RestartList r(d.restart_needed);
  r.check(running.interface.name, next.interface.name, "interface.name");
  if (!same_key(running.interface.private_key, next.interface.private_key))
    d.restart_needed.push_back("interface.private_key_file");
  r.check(running.interface.listen_port, next.interface.listen_port, "interface.listen_port");
  r.check(running.interface.address, next.interface.address, "interface.address");
  diff_port(r, running.ports.wan, next.ports.wan, "ports.wan");
  diff_port(r, running.ports.lan, next.ports.lan, "ports.lan");
  r.check(running.dataplane.lcores, next.dataplane.lcores, "dataplane.lcores");
  r.check(running.dataplane.burst_size, next.dataplane.burst_size, "dataplane.burst_size");
  r.check(running.dataplane.handshake_threads, next.dataplane.handshake_threads,
          "dataplane.handshake_threads");
  r.check(running.metrics.enabled, next.metrics.enabled, "metrics.enabled");
  r.check(running.metrics.listen, next.metrics.listen, "metrics.listen");
  r.check(running.metrics.per_peer, next.metrics.per_peer, "metrics.per_peer");
  r.check(running.metrics.per_peer_limit, next.metrics.per_peer_limit, "metrics.per_peer_limit");
  r.check(running.metrics.peer_endpoints, next.metrics.peer_endpoints, "metrics.peer_endpoints");
  r.check(running.store.endpoints, next.store.endpoints, "store.endpoints");
  r.check(running.store.prefix, next.store.prefix, "store.prefix");
  r.check(running.store.ca_file, next.store.ca_file, "store.ca_file");
  r.check(running.store.cert_file, next.store.cert_file, "store.cert_file");
  r.check(running.store.key_file, next.store.key_file, "store.key_file");
  r.check(running.store.user, next.store.user, "store.user");
  r.check(running.store.password_file, next.store.password_file, "store.password_file");
  r.check(running.store.cache_file, next.store.cache_file, "store.cache_file");
  r.check(running.store.election, next.store.election, "store.election");
  r.check(running.store.node_name, next.store.node_name, "store.node_name");
  r.check(running.store.lease_ttl, next.store.lease_ttl, "store.lease_ttl");
  r.check(running.store.leader_key, next.store.leader_key, "store.leader_key");
  r.check(running.store.failsafe_listen, next.store.failsafe_listen, "store.failsafe_listen");
  r.check(running.store.failsafe_peers, next.store.failsafe_peers, "store.failsafe_peers");

  for (std::uint32_t i = 0; i < running.peers.size(); ++i)
    if (next.find_peer(running.peers[i].public_key) == nullptr) d.removed.push_back(i);
  for (std::uint32_t i = 0; i < next.peers.size(); ++i) {
    const Peer* before = running.find_peer(next.peers[i].public_key);
    if (before == nullptr) {
      d.added.push_back(i);
      continue;
    }
    auto fields = peer_fields(*before, next.peers[i]);
    if (!fields.empty()) d.changed.push_back(PeerChange{i, std::move(fields)});
  }
  return d;
}

DesiredState merge_restart_settings(const DesiredState& running, DesiredState next) {
  next.interface = running.interface;
  next.ports = running.ports;
  next.dataplane = running.dataplane;
  next.metrics = running.metrics;
  next.store = running.store;
  return next;
}

}  // namespace wghub::config
