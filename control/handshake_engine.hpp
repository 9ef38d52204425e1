// The control thread's handshake stage (kernel receive.c
// wg_receive_handshake_packet and send.c's handshake senders): takes the
// handshake-class messages the workers pass up (initiation, response, cookie
// reply), checks mac1, runs Noise, and hands the results to a HandshakeSink:
// messages to send, session indices, new keypairs and endpoint changes. It
// also starts handshakes with peers whose endpoint is known. The DoS defence
// under load (mac2, cookie replies, the per-source limit) is the workers'
// (dataplane/cookie_gate.hpp): what reaches the engine has passed it.
//
// An initiation is answered in two steps so that the expensive one can run on
// several threads (handshake_threads.hpp): prepare_initiation() does the
// responder's X25519s and touches no engine state (any thread);
// complete_initiation() checks the peer's replay and flood history, takes a
// session index, sends the response and installs the keypair (control
// thread). receive() runs both in turn.
//
// DPDK-free and clock-free (`now` is passed in), so the unit tests drive it in
// simulated time against a simulated peer; the hub's sink talks to the data
// plane. Everything but prepare_initiation() is the control thread's.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "control/clock.hpp"
#include "control/cookie.hpp"
#include "control/noise.hpp"
#include "control/responder_directory.hpp"
#include "control/source_address.hpp"

namespace wghub::ctl {

// What the engine needs from the rest of the hub.
class HandshakeSink {
 public:
  virtual ~HandshakeSink() = default;
  // Sends one handshake-class message (initiation, response, cookie reply)
  // to `to` from the hub's listen port.
  // `peer_slot` names the peer it is for (none for cookie replies, which
  // answer an unauthenticated sender).
  virtual void send_handshake(const SourceAddress& to, std::span<const std::uint8_t> message,
                              std::optional<std::uint32_t> peer_slot) = 0;
  // Session indices share one space with the data plane's keypair table: an
  // index reserved here becomes the new keypair's local index.
  virtual std::optional<std::uint32_t> reserve_index() = 0;
  virtual void release_index(std::uint32_t index) = 0;
  // A new session with the peer in data plane slot `peer_slot`. The
  // initiator's keypair may send at once; the responder's only once the first
  // data packet arrived on it (whitepaper 5.4.5) — the sink enforces that.
  virtual void install_keypair(std::uint32_t peer_slot, Keypair&& keypair) = 0;
  // The peer's latest authenticated outer source (roaming, whitepaper 2.1).
  virtual void set_endpoint(std::uint32_t peer_slot, const SourceAddress& endpoint) = 0;
  // An empty data message on the peer's current sending keypair: sent by the
  // initiator right after the handshake to confirm the session.
  virtual void send_keepalive(std::uint32_t peer_slot) = 0;
};

// Why a handshake message was not accepted (each is counted).
enum class HandshakeDrop : std::uint8_t {
  kBadLength,       // size does not match the message type
  kInvalidMac,      // mac1 wrong: silently dropped (whitepaper 5.3)
  kRateLimited,     // under load, valid cookie, but the source exceeds 20/s (the workers' gate)
  kNoise,           // the Noise step failed (see noise_errors)
  kUnknownIndex,    // response or cookie reply for no handshake of ours
  kBadCookieReply,  // cookie reply that does not authenticate
  kNoIndex,         // the index space is exhausted
  kCount,
};
std::string_view to_string(HandshakeDrop drop);

enum class HandshakeOutcome : std::uint8_t {
  kSessionDerived,  // consumed an initiation (responded) or a response
  kCookieConsumed,  // stored a cookie from a peer
  kDropped,
};

struct HandshakeCounters {
  std::uint64_t initiations_received = 0;
  std::uint64_t responses_received = 0;
  std::uint64_t cookie_replies_received = 0;
  std::uint64_t initiations_sent = 0;
  std::uint64_t responses_sent = 0;
  std::uint64_t cookie_replies_sent = 0;  // the workers' and the control thread's (metrics)
  std::uint64_t sessions_derived = 0;
  std::uint64_t drops[static_cast<std::size_t>(HandshakeDrop::kCount)] = {};
  std::uint64_t noise_errors[16] = {};  // by NoiseError
  // Removed keys whose replay history was forgotten to stay within kRetiredKeys.
  std::uint64_t retired_keys_forgotten = 0;
};

// A peer as the handshake stage knows it.
struct HandshakePeerSettings {
  std::uint32_t slot = 0;  // data plane peer slot
  std::string name;
  PublicKey public_key{};
  const crypto::Secret<32>* preshared_key = nullptr;  // copied; nullptr = none
  std::optional<SourceAddress> endpoint;              // configured endpoint, if any
};

class HandshakeEngine {
 public:
  HandshakeEngine(LocalIdentity local, HandshakeSink& sink);
  ~HandshakeEngine();

  const PublicKey& public_key() const { return local_.public_key; }

  // Adds or replaces a peer (by slot). Replacing keeps nothing of the old
  // handshake state.
  void add_peer(const HandshakePeerSettings& settings);
  // Room for n peers without rehashing (the start's bulk add).
  void reserve(std::size_t n) {
    peers_.reserve(n);
    directory_.reserve(n);
  }
  // The peer's newest initiation timestamp outlives it: a peer added again
  // with the same public key refuses an initiation captured before
  // (whitepaper 5.1), for up to kRetiredKeys removed keys.
  void remove_peer(std::uint32_t slot);
  static constexpr std::size_t kRetiredKeys = std::size_t{1} << 20;
  // Replaces a peer's preshared key (nullptr = none); established sessions
  // keep their keys, the next handshake uses the new one.
  void set_preshared_key(std::uint32_t slot, const crypto::Secret<32>* psk);
  bool has_peer(std::uint32_t slot) const { return peers_.contains(slot); }
  std::optional<std::uint32_t> slot_of(const PublicKey& key) const {
    return directory_.slot_of(key);
  }
  std::size_t peer_count() const { return peers_.size(); }

  struct Result {
    HandshakeOutcome outcome = HandshakeOutcome::kDropped;
    std::optional<HandshakeDrop> drop;
    std::optional<NoiseError> noise_error;
    std::optional<std::uint32_t> peer_slot;  // set when a peer was identified
  };
  // One handshake-class message (types 1-3) from `from`, whose mac1 and
  // (under load) mac2 and source limit the workers checked; mac1 is checked
  // again here.
  Result receive(std::span<const std::uint8_t> message, const SourceAddress& from, TimePoint now);

  // An initiation's responder crypto, done (any thread) but not yet
  // accepted: see the file comment.
  struct Prepared {
    NoiseError error = NoiseError::kOk;
    bool bad_length = false;
    bool bad_mac = false;
    std::optional<std::uint32_t> slot;  // set once the peer is known
    std::uint64_t generation = 0;       // of the peer in that slot
    PreparedResponse response;
  };
  // Any thread, concurrently with the control thread's use of the engine.
  // `ephemeral` injects the response's ephemeral key for tests.
  void prepare_initiation(std::span<const std::uint8_t> message, Prepared& out,
                          const crypto::Secret<32>* ephemeral = nullptr) const;
  // Control thread: accepts a prepared initiation from `from` (replay and
  // flood checks), responds and installs the session.
  Result complete_initiation(Prepared& prepared, const SourceAddress& from, TimePoint now);

  // Sends an initiation to the peer's endpoint. False when it has none or
  // the last initiation went out less than REKEY_TIMEOUT ago (unless
  // `force`).
  bool initiate(std::uint32_t slot, TimePoint now, bool force = false);

  // Abandons the peer's handshake in progress and wipes its transient
  // secrets (timers: key material erased); a response to it is refused.
  void clear_handshake(std::uint32_t slot);

  // The peer's last known endpoint (configured or learned).
  std::optional<SourceAddress> endpoint(std::uint32_t slot) const;
  // Records an endpoint learned by the data plane (authenticated data).
  void update_endpoint(std::uint32_t slot, const SourceAddress& endpoint);

  const HandshakeCounters& counters() const { return counters_; }

 private:
  struct Peer;

  Result drop(HandshakeDrop why, std::optional<std::uint32_t> slot = std::nullopt);
  Result on_response(std::span<const std::uint8_t> message, const SourceAddress& from,
                     TimePoint now);
  Result on_cookie_reply(std::span<const std::uint8_t> message, TimePoint now);
  Peer* find_by_pending_index(std::uint32_t index);
  void set_pending_index(Peer& peer, std::uint32_t index);
  void learn_endpoint(Peer& peer, const SourceAddress& from);
  void retire(const PublicKey& key, const crypto::Tai64n& latest);

  LocalIdentity local_;
  HandshakeSink& sink_;
  CookieChecker checker_;                                           // mac1 only
  std::unordered_map<std::uint32_t, std::unique_ptr<Peer>> peers_;  // by slot
  ResponderDirectory directory_;  // by static key, for every thread
  // Removed peers' newest TAI64N by key, and the order they were removed in.
  std::unordered_map<PublicKey, crypto::Tai64n, PublicKeyHash> retired_;
  std::deque<PublicKey> retired_order_;
  std::uint64_t next_generation_ = 1;
  std::unordered_map<std::uint32_t, std::uint32_t> by_pending_index_;  // index -> slot
  HandshakeCounters counters_;
};

}  // namespace wghub::ctl
