// The hub's WireGuard device as the control thread manages it (kernel
// device.c + peer.c + the keypair half of noise.c): applies the desired state
// to the data plane's tables (peer slots, AllowedIPs and LAN routes in the
// FIB, the appliance's own addresses), keeps each peer's keypairs as
// previous/current/next the way the kernel does, and is the HandshakeSink
// through which the handshake engine reaches the data plane. Control thread
// only; what workers may still hold is freed after an RCU grace period.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "control/control_tx.hpp"
#include "control/handshake_engine.hpp"
#include "dataplane/context.hpp"

namespace wghub::ctl {

class Device : public HandshakeSink {
 public:
  struct Peer {
    std::string name;
    PublicKey public_key{};
    std::uint32_t slot = 0;
    std::uint16_t persistent_keepalive = 0;  // seconds, 0 = off
    bool configured_endpoint = false;
    std::vector<config::Prefix> allowed_ips;
    // Kernel noise_keypairs: `next` is a responder's keypair until the first
    // data packet confirms it (whitepaper 5.4.5); `current` sends.
    dp::Keypair* previous = nullptr;
    dp::Keypair* current = nullptr;
    dp::Keypair* next = nullptr;
    std::optional<std::chrono::system_clock::time_point> last_handshake;
    std::uint64_t handshakes = 0;
  };

  Device(dp::Dataplane& dp, ControlTx& tx);
  ~Device() override;

  // Start-up: builds the tables from `state`. False with a message naming
  // the config field when the data plane cannot hold it.
  bool apply(const config::DesiredState& state, std::string& error);
  // Registers every peer with the handshake engine.
  void register_peers(HandshakeEngine& engine) const;
  // Periodic work: confirms responder keypairs, hands endpoints learned by
  // the workers to the engine, starts handshakes that are wanted, sends
  // persistent keepalives, frees retired keypairs.
  void tick(HandshakeEngine& engine, TimePoint now, std::uint64_t now_tsc);
  // A worker's notice about one peer: the same work for that peer, at once.
  void on_event(HandshakeEngine& engine, dp::WorkerEvent event, std::uint32_t slot, TimePoint now,
                std::uint64_t now_tsc);

  const std::map<std::uint32_t, Peer>& peers() const { return peers_; }
  bool has_session(const Peer& p, std::uint64_t now_tsc) const;

  // HandshakeSink
  void send_handshake(const SourceAddress& to, std::span<const std::uint8_t> message) override;
  std::optional<std::uint32_t> reserve_index() override;
  void release_index(std::uint32_t index) override;
  void install_keypair(std::uint32_t peer_slot, Keypair&& keypair) override;
  void set_endpoint(std::uint32_t peer_slot, const SourceAddress& endpoint) override;
  void send_keepalive(std::uint32_t peer_slot) override;

 private:
  void service(HandshakeEngine& engine, Peer& p, TimePoint now, std::uint64_t now_tsc);
  void retire(dp::Keypair*& kp);
  void publish_current(Peer& p);
  bool add_route(const config::Prefix& prefix, dp::NextHop nh, const std::string& what,
                 std::string& error);

  dp::Dataplane& dp_;
  ControlTx& tx_;
  dp::DeferredFree deferred_;
  std::map<std::uint32_t, Peer> peers_;  // by slot
};

// "a.b.c.d:port" of a packed endpoint, for logs and status.
std::string format_endpoint(std::uint64_t packed);

}  // namespace wghub::ctl
