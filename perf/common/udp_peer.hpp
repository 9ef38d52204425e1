// A WireGuard peer over a plain IPv4 UDP socket, on wghub's protocol core
// (control/noise, control/cookie, crypto/aead), with no DPDK and no tun
// device: what the lab's stand-alone peers share (perf/compare/streamgen,
// tests/interop/proto_peer, tests/interop/initiation_flood). Key files and
// endpoints; the handshake with one remote static key, as initiator or
// responder, with mac1/mac2 and cookie replies; a transport session that
// seals and opens data messages. The sockets stay the programs' own.
#pragma once

#include <netinet/in.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "control/clock.hpp"
#include "control/cookie.hpp"
#include "control/noise.hpp"
#include "crypto/secret.hpp"
#include "dataplane/messages.hpp"
#include "dataplane/replay_window.hpp"

namespace wghub::udppeer {

// A key file as `wg genkey` writes it: base64 and a newline.
std::optional<std::array<std::uint8_t, 32>> read_key_file(const std::string& path);
// A preshared key file (`wg genpsk`) into `psk`; the bytes read are wiped.
// False when it cannot be read or holds no key.
bool read_psk_file(const std::string& path, crypto::Secret<32>& psk);
// Our identity from a private key, which is wiped.
ctl::LocalIdentity identity_from(std::array<std::uint8_t, 32>& private_key);

// "IP:PORT" (IPv4) as a socket address; nullopt when either part is bad.
std::optional<sockaddr_in> parse_endpoint(const std::string& text);

// One datagram of at least 4 bytes (a message type) on `fd`, waiting for it
// until `until`; empty when none came (or on ECONNREFUSED: nobody listens yet).
std::vector<std::uint8_t> receive(int fd, ctl::TimePoint until, sockaddr_in* from = nullptr);

// What became of a handshake message we received.
struct Consumed {
  bool bad_mac = false;                          // mac1 wrong: dropped unread
  ctl::NoiseError error = ctl::NoiseError::kOk;  // else why Noise refused it
  bool ok() const { return !bad_mac && error == ctl::NoiseError::kOk; }
};

// The handshake (whitepaper 5.4) with one remote static key: our identity,
// the Noise state, the macs on what we send (and the cookie the remote gave
// us), the mac1 check on what we receive. Sender indices are random.
class Handshaker {
 public:
  Handshaker(ctl::LocalIdentity local, const ctl::PublicKey& remote,
             const crypto::Secret<32>* psk = nullptr);
  Handshaker(const Handshaker&) = delete;  // handshake_ points into local_
  Handshaker& operator=(const Handshaker&) = delete;

  std::uint32_t local_index() const { return handshake_.local_index(); }

  // ---- initiator
  // A fresh initiation (new ephemeral, sender index and TAI64N timestamp)
  // with mac1, and mac2 while a cookie is held.
  ctl::NoiseError create_initiation(dp::MessageInitiation& out, ctl::TimePoint now);
  // Stores the cookie of a cookie reply to our latest initiation (5.4.7);
  // false when the reply is for another index or does not authenticate.
  bool consume_cookie_reply(const dp::MessageCookieReply& reply, ctl::TimePoint now);
  // A response (92 B) from `from`: mac1 checked, then Noise completed
  // (begin_session next).
  Consumed consume_response(std::span<const std::uint8_t> message, const sockaddr_in& from,
                            ctl::TimePoint now);

  // ---- responder
  // An initiation (148 B) from `from`: mac1 checked, then Noise consumed
  // (create_response next).
  Consumed consume_initiation(std::span<const std::uint8_t> message, const sockaddr_in& from,
                              ctl::TimePoint now);
  // The response to the consumed initiation, with its macs.
  ctl::NoiseError create_response(dp::MessageResponse& out, ctl::TimePoint now);

  // Both (5.4.5): the transport keypair of the completed handshake.
  std::optional<ctl::Keypair> begin_session(ctl::TimePoint now);

 private:
  ctl::LocalIdentity local_;
  ctl::PeerHandshake handshake_;
  ctl::CookieChecker checker_;  // mac1 the remote puts on what it sends us
  ctl::CookieMaker maker_;      // macs on what we send the remote
};

// A transport session (whitepaper 5.4.6): the keypair, our next send
// counter, the replay window of what we received.
struct Session {
  ctl::Keypair keys;
  std::uint64_t send_counter = 0;
  dp::ReplayWindow window;

  // A data message carrying `inner`, padded to a multiple of 16 (at most to
  // `mtu`), sealed with the next counter.
  std::vector<std::uint8_t> seal(std::span<const std::uint8_t> inner, std::size_t mtu);

  enum class Open { kOk, kUnknownIndex, kNotAuthentic, kReplayed };
  struct Opened {
    Open status = Open::kUnknownIndex;
    std::uint64_t counter = 0;
    std::span<std::uint8_t> plaintext;  // decrypted in place: the inner packet and its padding
  };
  // Opens a data message (at least kMessageDataMinSize bytes) for this
  // session in place; its counter counts only once it authenticated.
  Opened open(std::span<std::uint8_t> message);
};

}  // namespace wghub::udppeer
