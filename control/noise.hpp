// WireGuard's handshake (whitepaper 5.4): Noise_IKpsk2 with WireGuard's
// construction and identifier strings, TAI64N timestamp payload, session
// indices and transport keypairs. Paired verbs, one per message:
//
//   initiator                                   responder
//   create_initiation  ── MessageInitiation ──► consume_initiation
//   consume_response   ◄── MessageResponse  ─── create_response
//   begin_session                               begin_session
//
// mac1/mac2 are not touched here: the sender fills them with CookieMaker
// after create_*, and the receiver checks them with CookieChecker before
// consume_* (control/cookie.hpp).
//
// Nothing here reads a clock or allocates indices: `now` (monotonic), the
// TAI64N timestamp and the local session index are parameters. The control
// thread owns every PeerHandshake; open_initiation() and prepare_response()
// touch none and may run on any thread (handshake threads).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include "control/clock.hpp"
#include "control/noise_symmetric.hpp"
#include "crypto/secret.hpp"
#include "crypto/tai64n.hpp"
#include "dataplane/messages.hpp"

namespace wghub::ctl {

// Whitepaper 5.4: the protocol name hashed into the first chaining key, and
// the prologue.
inline constexpr std::string_view kNoiseConstruction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
inline constexpr std::string_view kWireGuardIdentifier = "WireGuard v1 zx2c4 Jason@zx2c4.com";

using PublicKey = std::array<std::uint8_t, 32>;

// This interface's static key pair.
struct LocalIdentity {
  crypto::Secret<32> private_key;
  PublicKey public_key{};

  // Derives the public key (RFC 7748 clamping) from a private key.
  static LocalIdentity from_private_key(std::span<const std::uint8_t, 32> private_key);
  // False while no private key is set (all zero): no handshake is possible.
  bool has_identity() const { return !private_key.is_zero(); }
};

// Why a handshake step failed. Every failure leaves the peer's handshake as
// it was before the call (consume_*) or zeroed (create_*).
enum class NoiseError : std::uint8_t {
  kOk = 0,
  kMalformed,          // wrong message type / reserved bytes
  kNoIdentity,         // no local private key
  kBadPeerKey,         // DH(local static, peer static) is all zero (low-order key)
  kZeroDh,             // an ephemeral DH was all zero
  kDecryptFailed,      // an AEAD failed: tampered bytes, wrong keys, psk mismatch
  kUnknownPeer,        // the initiator's static key is not a configured peer
  kReplayedTimestamp,  // TAI64N not newer than the last one from that peer
  kFlood,              // initiations from that peer faster than 50/s
  kWrongState,         // the peer's handshake is not at the step this message needs
  kUnknownIndex,       // the receiver index is not our pending handshake's
};
std::string_view to_string(NoiseError error);

// Where a peer's handshake stands (kernel enum noise_handshake_state).
enum class HandshakeStage : std::uint8_t {
  kZeroed,
  kCreatedInitiation,
  kConsumedInitiation,
  kCreatedResponse,
  kConsumedResponse,
};

// A transport session's keys (whitepaper 5.4.5) and indices. Data we send
// carries remote_index as its receiver index and is sealed with sending_key;
// data we receive carries local_index and opens with receiving_key.
struct Keypair {
  crypto::Secret<32> sending_key;
  crypto::Secret<32> receiving_key;
  std::uint32_t local_index = 0;
  std::uint32_t remote_index = 0;
  bool is_initiator = false;  // the initiator must send first (whitepaper 5.4.5)
  TimePoint birth{};          // for REKEY_AFTER_TIME / REJECT_AFTER_TIME
};

// One configured peer's handshake state (kernel struct noise_handshake):
// its static key, the preshared key, the static-static DH, and the transient
// Noise state of a handshake in progress. Move-only; secrets are wiped when
// it dies or is cleared.
//
// The static-static DH(local static, remote static) is computed once, at the
// first handshake with the peer (with the LocalIdentity the verbs are given),
// and kept: the kernel computes it when the peer is created, but a hub with
// 10^5 peers would then spend 10^5 X25519 (about 4 s here) before it starts
// or while it reloads.
class PeerHandshake {
 public:
  // psk nullptr or all zero means "no preshared key" (Noise then mixes 32
  // zero bytes).
  explicit PeerHandshake(std::span<const std::uint8_t, 32> remote_static,
                         const crypto::Secret<32>* psk = nullptr);

  // Forgets the static-static DH after the local private key changed (the
  // next handshake computes it with the new key), and clears any handshake
  // in progress.
  void local_identity_changed();
  // Replaces the preshared key (nullptr = none).
  void set_preshared_key(const crypto::Secret<32>* psk);

  const PublicKey& remote_static() const { return remote_static_; }
  HandshakeStage stage() const { return stage_; }
  // Our index of the handshake in progress (as passed to create_*); 0 when
  // zeroed. The caller's index table maps it back to this peer.
  std::uint32_t local_index() const { return local_index_; }
  // The peer's sender index from the last consumed initiation or response.
  std::uint32_t remote_index() const { return remote_index_; }
  // The newest TAI64N accepted from this peer (all zero before the first).
  const crypto::Tai64n& latest_timestamp() const { return latest_timestamp_; }
  // Carries the replay history over to a peer re-created with the same key
  // (HandshakeEngine keeps it across remove and re-add).
  void restore_latest_timestamp(const crypto::Tai64n& t) { latest_timestamp_ = t; }
  // False if the peer's static key is low order (DH with `local` all zero):
  // no handshake can succeed. Computes the static-static DH on first use.
  bool has_valid_static(const LocalIdentity& local);

  // Abandons a handshake in progress: stage kZeroed, transient secrets wiped.
  // The replay/flood history (timestamp, last consumption) is kept, as the
  // kernel's handshake_zero does.
  void clear();

 private:
  // The verbs below reach the state through this (defined in noise.cpp).
  friend struct NoiseAccess;

  PublicKey remote_static_{};
  crypto::Secret<32> precomputed_ss_;  // ss: DH(s_local, s_remote), once computed
  enum class Static : std::uint8_t { kNotComputed, kValid, kLowOrder };
  Static static_ = Static::kNotComputed;
  crypto::Secret<32> psk_;  // all zero when none
  HandshakeStage stage_ = HandshakeStage::kZeroed;
  noise::IkPsk2 state_;  // h, ck, e, re of the handshake in progress
  std::uint32_t local_index_ = 0;
  std::uint32_t remote_index_ = 0;
  crypto::Tai64n latest_timestamp_{};
  std::optional<TimePoint> last_initiation_consumption_;
};

// Finds the configured peer whose static public key is `remote_static`;
// nullptr if none.
using PeerLookup = std::function<PeerHandshake*(const PublicKey& remote_static)>;
// Finds the peer whose pending handshake has local index `receiver_index`;
// nullptr if none.
using IndexLookup = std::function<PeerHandshake*(std::uint32_t receiver_index)>;

struct ConsumeResult {
  NoiseError error = NoiseError::kOk;
  PeerHandshake* peer = nullptr;  // set once the peer is known, even on a later failure
  bool ok() const { return error == NoiseError::kOk; }
};

// Initiator (whitepaper 5.4.2): writes a complete initiation except the macs
// (zeroed; add them with CookieMaker::add_macs). `local_index` becomes the
// message's sender index and peer.local_index(). `timestamp` is the TAI64N
// payload (crypto::tai64n_now() in production). `ephemeral` injects the
// ephemeral private key for tests; nullptr draws a fresh one. Replaces any
// handshake in progress with this peer; on error the handshake is zeroed.
NoiseError create_initiation(dp::MessageInitiation& out, PeerHandshake& peer,
                             const LocalIdentity& local, std::uint32_t local_index,
                             const crypto::Tai64n& timestamp,
                             const crypto::Secret<32>* ephemeral = nullptr);

// Responder (whitepaper 5.4.2): authenticates an initiation whose macs the
// caller already checked. Decrypts the initiator's static key, finds the peer
// with `lookup`, then refuses a TAI64N not newer than the peer's latest and
// initiations arriving less than 1/50 s after the last consumed one (`now`).
// On success the peer is at kConsumedInitiation with the sender index as
// remote_index(); on any failure no peer state changes.
ConsumeResult consume_initiation(const dp::MessageInitiation& msg, const LocalIdentity& local,
                                 const PeerLookup& lookup, TimePoint now);

// Responder (whitepaper 5.4.3): answers the consumed initiation. `local_index`
// becomes the sender index and peer.local_index() (the caller frees the one
// it replaces). Macs are zeroed (CookieMaker::add_macs). Needs
// kConsumedInitiation; on error other than kWrongState the handshake is zeroed.
NoiseError create_response(dp::MessageResponse& out, PeerHandshake& peer, std::uint32_t local_index,
                           const crypto::Secret<32>* ephemeral = nullptr);

// Initiator (whitepaper 5.4.3): finds the pending handshake by the message's
// receiver index with `lookup` and completes it. A forged or tampered
// response leaves the pending handshake untouched, so the genuine one can
// still complete it. On success the peer is at kConsumedResponse.
ConsumeResult consume_response(const dp::MessageResponse& msg, const LocalIdentity& local,
                               const IndexLookup& lookup);

// The responder's half of a handshake split for several threads
// (control/handshake_threads.hpp). The expensive part, four X25519 (es, the
// response's ephemeral, ee, se; ss is the peer's cached one), touches no peer
// state and runs on any thread; what needs the peer's history (the replay and
// flood checks) and the session index runs afterwards on the control thread.
// The sender index is not part of the Noise transcript, so the response is
// complete but for it (and the macs).
struct PreparedResponse {
  PublicKey remote_static{};       // the initiator's static key
  crypto::Tai64n timestamp{};      // its TAI64N payload
  std::uint32_t remote_index = 0;  // its sender index
  dp::MessageResponse message{};   // sender index and macs still zero
  crypto::Secret<32> sending_key;  // the responder's transport keys
  crypto::Secret<32> receiving_key;
};

// Responder, any thread, step 1 (e, es, s): decrypts the initiator's static
// key into state.remote_static() for the caller to look up.
NoiseError open_initiation(const dp::MessageInitiation& msg, const LocalIdentity& local,
                           noise::IkPsk2& state);
// Responder, any thread, step 2 (ss, {timestamp}; then the response's e, ee,
// se, psk, {} and the split), given the peer's static-static DH and
// preshared key (all zero = none). `state` is consumed.
NoiseError prepare_response(noise::IkPsk2& state, const dp::MessageInitiation& msg,
                            const crypto::Secret<32>& ss, const crypto::Secret<32>& psk,
                            PreparedResponse& out, const crypto::Secret<32>* ephemeral = nullptr);
// Responder, control thread: the replay and flood checks of
// consume_initiation against the peer's history, which is updated on success
// (kReplayedTimestamp, kFlood otherwise). A handshake of ours in progress is
// abandoned, as consuming an initiation overwrites it.
NoiseError accept_initiation(PeerHandshake& peer, const crypto::Tai64n& timestamp, TimePoint now);
// Responder: the keypair of an accepted PreparedResponse, whose message now
// carries `local_index` as its sender index. Wipes the prepared keys.
Keypair finish_response(PreparedResponse& prepared, std::uint32_t local_index, TimePoint now);

// Both sides (whitepaper 5.4.5): derives the transport keypair from a
// handshake at kConsumedResponse (initiator) or kCreatedResponse (responder)
// and zeroes the handshake. nullopt in any other stage.
std::optional<Keypair> begin_session(PeerHandshake& peer, TimePoint now);

}  // namespace wghub::ctl
