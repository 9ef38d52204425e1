#include "control/uapi_backend.hpp"

#include <rte_byteorder.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "control/log.hpp"
#include "crypto/base64.hpp"

namespace wghub::ctl {

namespace {

bool all_zero(const crypto::Key& key) {
  return key.is_zero();
}

std::optional<config::Endpoint> config_endpoint(const dp::Endpoint& e) {
  if (e.empty()) return std::nullopt;
  config::IpAddress a;
  a.family = e.is_v6() ? config::Family::v6 : config::Family::v4;
  std::memcpy(a.bytes.data(), e.addr().data(), e.is_v6() ? 16 : 4);
  return config::Endpoint{a, rte_be_to_cpu_16(e.port_be())};
}

}  // namespace

DeviceUapiBackend::DeviceUapiBackend(Device& device, std::shared_ptr<const crypto::Key> private_key,
                                     std::uint16_t listen_port, PublicKey own_public_key,
                                     NameLookup config_name)
    : device_(device),
      private_key_(std::move(private_key)),
      listen_port_(listen_port),
      own_public_key_(own_public_key),
      config_name_(std::move(config_name)) {}

uapi::PeerStatus DeviceUapiBackend::status_of(const Device::Peer& p) const {
  uapi::PeerStatus ps;
  ps.public_key = p.public_key;
  ps.endpoint = config_endpoint(device_.endpoint(p));
  if (p.last_handshake) {
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(p.last_handshake->time_since_epoch())
            .count();
    ps.last_handshake_sec = static_cast<std::uint64_t>(ns / 1'000'000'000);
    ps.last_handshake_nsec = static_cast<std::uint64_t>(ns % 1'000'000'000);
  }
  const dp::PeerCounters c = device_.counters(p);
  ps.rx_bytes = c.rx_bytes;
  ps.tx_bytes = c.tx_bytes;
  ps.persistent_keepalive = p.persistent_keepalive;
  ps.allowed_ips = p.allowed_ips;
  return ps;
}

uapi::DeviceStatus DeviceUapiBackend::get() {
  uapi::DeviceStatus status;
  uapi::GetCursor cursor;
  while (!get_slice(cursor, device_.peers().size() + 1, status)) {
  }
  return status;
}

bool DeviceUapiBackend::get_slice(uapi::GetCursor& cursor, std::size_t max_peers,
                                  uapi::DeviceStatus& out) {
  if (!cursor.started) {
    out.listen_port = listen_port_;
    out.fwmark = fwmark_;
    cursor.started = true;
  }
  // By slot (slice_by_slot): a peer removed meanwhile is skipped and none
  // is listed twice.
  auto next = static_cast<std::uint32_t>(cursor.next);
  const bool done =
      slice_by_slot(device_.peers(), next, max_peers, [&](std::uint32_t, const Device::Peer& peer) {
        out.peers.push_back(status_of(peer));
        return true;
      });
  cursor.next = next;
  return done;
}

int DeviceUapiBackend::set(const uapi::SetRequest& request) {
  if (refusal_) {
    if (const std::string why = refusal_(); !why.empty()) {
      log_warn("wg(8): set refused: %s", why.c_str());
      return EROFS;  // wg(8): "Read-only file system"
    }
  }
  // Refuse what cannot change while running before changing anything. wg(8)
  // sends an all-zero key and port 0 for a file without PrivateKey or
  // ListenPort (wg syncconf of an edited `wg showconf`): "keep" here, since
  // the hub cannot run without its key.
  if (request.private_key && !all_zero(*request.private_key) &&
      !crypto::equal_ct(request.private_key->data(), private_key_->data(), 32)) {
    log_warn("wg(8): a different private key needs a restart with a new private_key_file; refused");
    return EPERM;
  }
  if (request.listen_port && *request.listen_port != 0 && *request.listen_port != listen_port_) {
    log_warn("wg(8): listen port %u requested; changing it needs a restart (running: %u); refused",
             *request.listen_port, listen_port_);
    return EADDRINUSE;
  }
  if (request.fwmark) fwmark_ = *request.fwmark;
  if (request.replace_peers) {
    std::vector<PublicKey> keep;
    for (const auto& change : request.peers)
      if (!change.remove) keep.push_back(change.public_key);
    std::vector<PublicKey> gone;
    for (const auto& [slot, p] : device_.peers())
      if (std::find(keep.begin(), keep.end(), p.public_key) == keep.end())
        gone.push_back(p.public_key);
    for (const auto& key : gone) device_.remove_peer(key);
  }
  for (const auto& change : request.peers)
    if (const int err = apply(change); err != 0) return err;
  return 0;
}

int DeviceUapiBackend::apply(const uapi::PeerChange& change) {
  if (change.public_key == own_public_key_) return 0;  // wireguard-go ignores itself as a peer
  const std::string who = crypto::key_to_base64(change.public_key.data()).substr(0, 8);
  if (change.remove) {
    if (device_.remove_peer(change.public_key)) log_info("wg(8): peer %s removed", who.c_str());
    return 0;
  }
  Device::Peer* existing = device_.find(change.public_key);
  if (existing == nullptr && change.update_only) return 0;

  PeerSpec spec;
  spec.public_key = change.public_key;
  if (existing != nullptr) {
    spec.name = existing->name;
    spec.preshared_key = existing->preshared_key;
    spec.allowed_ips = existing->allowed_ips;
    spec.persistent_keepalive = existing->persistent_keepalive;
  } else {
    // A peer the YAML knows keeps its name; one only wg(8) knows gets one.
    spec.name = config_name_ ? config_name_(change.public_key) : "";
    if (spec.name.empty()) spec.name = "wg-" + who;
  }
  if (change.preshared_key) {
    spec.preshared_key = all_zero(*change.preshared_key)
                             ? nullptr
                             : std::make_shared<const crypto::Key>(change.preshared_key->span());
  }
  spec.endpoint = change.endpoint;
  if (change.persistent_keepalive) spec.persistent_keepalive = *change.persistent_keepalive;
  if (change.replace_allowed_ips) spec.allowed_ips.clear();
  for (const auto& a : change.allowed_ips) {
    std::erase(spec.allowed_ips, a.prefix);
    if (!a.remove) spec.allowed_ips.push_back(a.prefix);
  }
  // A prefix that is one of the hub's own routes (the LAN's subnet, a static
  // or default route, the hub's addresses; config/route_policy.hpp) is
  // refused, and nothing about the peer changes.
  if (auto why = device_.route_policy().refusal(spec.allowed_ips)) {
    log_warn("wg(8): peer %s: allowed-ips %s; refused", who.c_str(), why->c_str());
    return EPERM;
  }
  std::string error;
  if (!device_.add_peer(spec, error)) {
    log_warn("wg(8): peer %s: %s", who.c_str(), error.c_str());
    return ENOSPC;
  }
  log_info("wg(8): peer %s %s", spec.name.c_str(), existing ? "updated" : "added");
  return 0;
}

}  // namespace wghub::ctl
