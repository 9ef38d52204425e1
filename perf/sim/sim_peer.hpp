// A simulated WireGuard site (wgperf and the pipeline tests),
// built on wghub's own protocol core (control/noise, control/cookie,
// crypto/aead), without a socket: it turns handshake
// and data messages into Ethernet/IPv4/UDP frames from its outer address to
// the hub, and reads the hub's frames back. Like a kernel peer it pads
// plaintext to 16 bytes (capped at the 1420-byte tunnel MTU), numbers its
// data messages from 0, adds mac1 (and mac2 once the hub gave it a cookie),
// and checks the hub's mac1 and replay counters on what it receives.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "control/cookie.hpp"
#include "control/noise.hpp"
#include "dataplane/replay_window.hpp"
#include "perf/sim/frames.hpp"

namespace wghub::perfsim {

// An outer address: where a site's datagrams come from (its NAT's public
// side, or the site itself when on the WAN link).
struct Outer {
  Mac mac{};             // source MAC of its frames (the site, or the WAN gateway)
  std::uint32_t ip = 0;  // host order
  std::uint16_t port = 0;
  bool v6 = false;  // the site reaches the hub over IPv6, from ip6 (ip unused)
  Ip6 ip6{};
};

// The hub as the site sees it on the WAN link.
struct HubWan {
  Mac mac{};
  std::uint32_t ip = 0;
  std::uint16_t port = 0;
  Ip6 ip6{};  // the WAN's address6, for sites over IPv6
};

class SimPeer {
 public:
  // `key_seed` picks a deterministic static key (all bytes = seed).
  SimPeer(std::string name, std::uint8_t key_seed, Outer outer, const ctl::PublicKey& hub_public);
  // Any 32-byte static private key (thousands of distinct sites); our
  // handshake indices start above `index_base`.
  SimPeer(std::string name, const std::array<std::uint8_t, 32>& private_key,
          std::uint32_t index_base, Outer outer, const ctl::PublicKey& hub_public);

  const std::string& name() const { return name_; }
  const ctl::PublicKey& public_key() const { return local_.public_key; }
  std::string public_key_base64() const;
  Outer& outer() { return outer_; }
  const Outer& outer() const { return outer_; }

  // ---- handshake (whitepaper 5.4), peer as initiator
  // A fresh initiation with mac1 (and mac2 while a cookie is held). Each call
  // uses a newer TAI64N timestamp than the last.
  Bytes create_initiation();
  // Completes the handshake from the hub's response (mac1 checked against
  // our key). False when the hub's response does not authenticate.
  bool consume_response(const Bytes& message);
  // Stores the cookie from a cookie reply to our last initiation.
  bool consume_cookie_reply(const Bytes& message);
  // ---- peer as responder (the hub initiated): the response message, or
  // nullopt when the initiation is refused (bad mac1, Noise failure).
  std::optional<Bytes> consume_initiation(const Bytes& message);

  bool has_session() const { return session_.has_value(); }
  const ctl::Keypair& keys() const { return *session_; }
  std::uint32_t handshake_index() const { return handshake_.local_index(); }

  // ---- data (whitepaper 5.4.6)
  // A data message carrying `inner` (empty = keepalive) with the next counter.
  Bytes seal(const Bytes& inner);
  // The same with an explicit counter (replay tests); the own counter is not moved.
  Bytes seal_with_counter(const Bytes& inner, std::uint64_t counter) const;
  struct Opened {
    std::uint64_t counter = 0;
    Bytes plaintext;  // as decrypted: the inner packet plus its padding
  };
  // Opens a data message from the hub: right index, authentic, not replayed.
  std::optional<Opened> open(const Bytes& message);
  std::uint64_t next_send_counter() const { return send_counter_; }

  // ---- framing
  // Ethernet/IPv4/UDP (IPv6/UDP for an IPv6 outer address) from our outer
  // address to the hub's listen port.
  Bytes frame_to(const HubWan& hub, const Bytes& wireguard_message) const;

 private:
  std::string name_;
  ctl::LocalIdentity local_;
  Outer outer_;
  ctl::PeerHandshake handshake_;
  ctl::CookieMaker maker_;      // macs on what we send to the hub
  ctl::CookieChecker checker_;  // mac1 the hub puts on what it sends us
  std::optional<ctl::Keypair> session_;
  std::uint64_t send_counter_ = 0;
  dp::ReplayWindow window_;
  std::uint32_t next_index_;
  std::uint64_t timestamp_s_;
};

}  // namespace wghub::perfsim
