// An in-memory uapi::Backend with wireguard-go's set semantics (device/uapi.go
// and its allowedips table): the unit tests and the wg(8) interop program
// (tests/interop/uapi_fake_hub.cpp) check the protocol code through it, so a
// `wg set` or `wg syncconf` round-trip is a real check of parse + apply +
// format. Secrets are only remembered as "present or not".
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "control/uapi.hpp"

namespace wghub::ctl::uapi::test {

class FakeBackend : public Backend {
 public:
  struct Peer {
    PublicKey public_key{};
    bool has_preshared_key = false;
    std::optional<Endpoint> endpoint;
    std::uint16_t persistent_keepalive = 0;
    std::vector<AllowedIp> allowed_ips;  // insertion order
    std::uint64_t last_handshake_sec = 0;
    std::uint64_t last_handshake_nsec = 0;
    std::uint64_t rx_bytes = 0;
    std::uint64_t tx_bytes = 0;
  };

  bool has_private_key = false;
  std::uint16_t listen_port = 0;
  std::uint32_t fwmark = 0;
  std::vector<Peer> peers;

  int get_calls = 0;
  int set_calls = 0;
  int fail_set_with = 0;  // non-zero: set() returns it and changes nothing
  // A port the fake "cannot bind": a set naming it fails with EADDRINUSE
  // and changes nothing, like wireguard-go's failed BindUpdate.
  std::optional<std::uint16_t> unbindable_port;
  std::function<void()> on_change;  // after every applied set

  DeviceStatus get() override {
    ++get_calls;
    DeviceStatus s;
    s.listen_port = listen_port;
    s.fwmark = fwmark;
    for (const Peer& p : peers) {
      PeerStatus ps;
      ps.public_key = p.public_key;
      ps.endpoint = p.endpoint;
      ps.last_handshake_sec = p.last_handshake_sec;
      ps.last_handshake_nsec = p.last_handshake_nsec;
      ps.rx_bytes = p.rx_bytes;
      ps.tx_bytes = p.tx_bytes;
      ps.persistent_keepalive = p.persistent_keepalive;
      ps.allowed_ips = p.allowed_ips;
      s.peers.push_back(std::move(ps));
    }
    return s;
  }

  // Slices by index into `peers`; records each slice's size.
  std::vector<std::size_t> slices;
  bool get_slice(GetCursor& cursor, std::size_t max_peers, DeviceStatus& out) override {
    if (!cursor.started) {
      out.listen_port = listen_port;
      out.fwmark = fwmark;
      cursor.started = true;
    }
    const DeviceStatus all = get();
    const std::size_t from = static_cast<std::size_t>(cursor.next);
    const std::size_t to = std::min(all.peers.size(), from + max_peers);
    for (std::size_t i = from; i < to; ++i) out.peers.push_back(all.peers[i]);
    slices.push_back(to - from);
    cursor.next = to;
    return to == all.peers.size();
  }

  int set(const SetRequest& r) override {
    ++set_calls;
    if (fail_set_with != 0) return fail_set_with;
    if (r.listen_port && r.listen_port == unbindable_port) return EADDRINUSE;
    if (r.private_key) has_private_key = !r.private_key->is_zero();
    if (r.listen_port) listen_port = *r.listen_port;
    if (r.fwmark) fwmark = *r.fwmark;
    if (r.replace_peers) peers.clear();
    for (const PeerChange& c : r.peers) apply(c);
    if (on_change) on_change();
    return 0;
  }

  Peer* find(const PublicKey& key) {
    auto it = std::find_if(peers.begin(), peers.end(),
                           [&](const Peer& p) { return p.public_key == key; });
    return it == peers.end() ? nullptr : &*it;
  }

  // The fake's whole state as text (no secrets): for the interop script.
  std::string describe() const {
    std::ostringstream o;
    o << "private_key=" << (has_private_key ? "set" : "none") << "\n";
    o << "listen_port=" << listen_port << "\nfwmark=" << fwmark << "\n";
    for (const Peer& p : peers) {
      o << "peer=" << key_to_hex(p.public_key) << " psk=" << (p.has_preshared_key ? "set" : "none")
        << " endpoint=" << (p.endpoint ? p.endpoint->to_string() : "none")
        << " keepalive=" << p.persistent_keepalive << " allowed_ips=";
      for (std::size_t i = 0; i < p.allowed_ips.size(); ++i) {
        o << (i ? "," : "") << p.allowed_ips[i].to_string();
      }
      o << "\n";
    }
    return o.str();
  }

 private:
  void apply(const PeerChange& c) {
    Peer* peer = find(c.public_key);
    if (c.remove) {
      if (peer != nullptr) {
        peers.erase(peers.begin() + (peer - peers.data()));
      }
      return;
    }
    if (peer == nullptr) {
      if (c.update_only) return;
      peers.push_back(Peer{});
      peer = &peers.back();
      peer->public_key = c.public_key;
    }
    if (c.preshared_key) peer->has_preshared_key = !c.preshared_key->is_zero();
    if (c.endpoint) peer->endpoint = *c.endpoint;
    if (c.persistent_keepalive) peer->persistent_keepalive = *c.persistent_keepalive;
    if (c.replace_allowed_ips) peer->allowed_ips.clear();
    for (const AllowedIpChange& ip : c.allowed_ips) {
      auto& mine = peer->allowed_ips;
      if (ip.remove) {
        // Only this peer's entry goes (wireguard-go allowedips.Remove).
        std::erase(mine, ip.prefix);
        continue;
      }
      // A prefix has one owner: inserting moves it (allowedips.Insert).
      for (Peer& other : peers) {
        if (&other != peer) std::erase(other.allowed_ips, ip.prefix);
      }
      if (std::find(mine.begin(), mine.end(), ip.prefix) == mine.end()) mine.push_back(ip.prefix);
    }
  }
};

}  // namespace wghub::ctl::uapi::test
