// WireGuard's handshake messages on top of the generic Noise_IKpsk2 state
// (whitepaper 5.4.2-5.4.5; the kernel's noise.c is the model). Every consume
// works on a scratch copy of the Noise state and commits it to the peer only
// once every check passed, so a forged or replayed message never disturbs a
// handshake in progress; the scratch state's secrets die with it.
#include "control/noise.hpp"

#include <algorithm>
#include <utility>

#include "crypto/x25519.hpp"

namespace wghub::ctl {

namespace {

using crypto::Secret;
using noise::IkPsk2;
using noise::Status;

// The Noise message bodies inside the WireGuard structs (after the header
// and indices, before the macs).
constexpr std::size_t kInitiationBodyLen = noise::message_1_len(dp::kTimestampLen);
constexpr std::size_t kResponseBodyLen = noise::message_2_len(0);
static_assert(kInitiationBodyLen == 32 + 48 + 28);
static_assert(kResponseBodyLen == 32 + 16);

std::span<const std::uint8_t> identifier_bytes() {
  return {reinterpret_cast<const std::uint8_t*>(kWireGuardIdentifier.data()),
          kWireGuardIdentifier.size()};
}

// Whitepaper 5.4.2: C_i = HASH(construction), H_i = HASH(C_i || identifier),
// H_i = HASH(H_i || S_r^pub).
void begin_handshake(IkPsk2& state, IkPsk2::Role role, const PublicKey& responder_static) {
  state.initialize(role, kNoiseConstruction, identifier_bytes(), responder_static);
}

NoiseError to_error(Status status) {
  switch (status) {
    case Status::kOk:
      return NoiseError::kOk;
    case Status::kBadLength:
      return NoiseError::kMalformed;
    case Status::kZeroDh:
      return NoiseError::kZeroDh;
    case Status::kAuthFailed:
      return NoiseError::kDecryptFailed;
  }
  return NoiseError::kMalformed;
}

void fresh_ephemeral(Secret<32>& out, const Secret<32>* injected) {
  if (injected != nullptr) {
    out.assign(injected->span());
  } else {
    crypto::x25519_generate_ephemeral(out.span());
  }
}

// Type byte plus three reserved zero bytes (whitepaper 5.4.2).
bool has_type(const dp::MessageHeader& header, dp::MessageType type) {
  return header.message_type() == type;
}

// The Noise body of an initiation: e, {s}, {timestamp}.
std::array<std::uint8_t, kInitiationBodyLen> initiation_body(const dp::MessageInitiation& msg) {
  std::array<std::uint8_t, kInitiationBodyLen> body{};
  auto it =
      std::copy(msg.unencrypted_ephemeral.begin(), msg.unencrypted_ephemeral.end(), body.begin());
  it = std::copy(msg.encrypted_static.begin(), msg.encrypted_static.end(), it);
  std::copy(msg.encrypted_timestamp.begin(), msg.encrypted_timestamp.end(), it);
  return body;
}

void write_response(dp::MessageResponse& out, std::uint32_t sender_index,
                    std::uint32_t receiver_index,
                    const std::array<std::uint8_t, kResponseBodyLen>& body) {
  out.header.set_type(dp::MessageType::kResponse);
  out.sender_index.set(sender_index);
  out.receiver_index.set(receiver_index);
  std::copy_n(body.begin(), out.unencrypted_ephemeral.size(), out.unencrypted_ephemeral.begin());
  std::copy_n(body.begin() + out.unencrypted_ephemeral.size(), out.encrypted_nothing.size(),
              out.encrypted_nothing.begin());
}

}  // namespace

// Reaches PeerHandshake's private state for the verbs below.
struct NoiseAccess {
  static NoiseError create_initiation(dp::MessageInitiation& out, PeerHandshake& peer,
                                      const LocalIdentity& local, std::uint32_t local_index,
                                      const crypto::Tai64n& timestamp,
                                      const Secret<32>* ephemeral) {
    peer.clear();
    out = dp::MessageInitiation{};
    if (!local.has_identity()) return NoiseError::kNoIdentity;
    if (!peer.has_valid_static(local)) return NoiseError::kBadPeerKey;

    Secret<32> e;
    fresh_ephemeral(e, ephemeral);
    IkPsk2 state;
    begin_handshake(state, IkPsk2::Role::kInitiator, peer.remote_static_);
    std::array<std::uint8_t, kInitiationBodyLen> body{};
    // e, es, s, ss, {timestamp}
    Status status =
        state.write_message_1(body, e, local.public_key, peer.precomputed_ss_, timestamp);
    if (status != Status::kOk) return to_error(status);

    out.header.set_type(dp::MessageType::kInitiation);
    out.sender_index.set(local_index);
    const std::uint8_t* from = body.data();
    std::copy_n(from, out.unencrypted_ephemeral.size(), out.unencrypted_ephemeral.begin());
    from += out.unencrypted_ephemeral.size();
    std::copy_n(from, out.encrypted_static.size(), out.encrypted_static.begin());
    from += out.encrypted_static.size();
    std::copy_n(from, out.encrypted_timestamp.size(), out.encrypted_timestamp.begin());

    peer.state_ = std::move(state);
    peer.stage_ = HandshakeStage::kCreatedInitiation;
    peer.local_index_ = local_index;
    return NoiseError::kOk;
  }

  // e, es, s of an initiation: the initiator's static key is then
  // state.remote_static().
  static NoiseError open_initiation(const dp::MessageInitiation& msg, const LocalIdentity& local,
                                    IkPsk2& state) {
    if (!has_type(msg.header, dp::MessageType::kInitiation)) return NoiseError::kMalformed;
    if (!local.has_identity()) return NoiseError::kNoIdentity;
    begin_handshake(state, IkPsk2::Role::kResponder, local.public_key);
    return to_error(state.read_message_1_static(initiation_body(msg), local.private_key));
  }

  // ss, {timestamp}
  static NoiseError read_timestamp(IkPsk2& state, const dp::MessageInitiation& msg,
                                   const Secret<32>& ss, crypto::Tai64n& timestamp) {
    return to_error(state.read_message_1_payload(initiation_body(msg), ss, timestamp));
  }

  static NoiseError check_history(const PeerHandshake& peer, const crypto::Tai64n& timestamp,
                                  TimePoint now) {
    // Whitepaper 5.1: a replayed initiation must not reset the session, so
    // the timestamp has to be strictly newer than the last one accepted.
    if (!crypto::tai64n_after(timestamp, peer.latest_timestamp_))
      return NoiseError::kReplayedTimestamp;
    // Kernel INITIATIONS_PER_SECOND: a peer with fresh timestamps still may
    // not make us run this more than 50 times a second.
    constexpr auto kMinInterval =
        std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) /
        dp::kInitiationsPerSecond;
    if (peer.last_initiation_consumption_ &&
        now < *peer.last_initiation_consumption_ + kMinInterval)
      return NoiseError::kFlood;
    return NoiseError::kOk;
  }

  static void record_history(PeerHandshake& peer, const crypto::Tai64n& timestamp, TimePoint now) {
    peer.latest_timestamp_ = timestamp;
    peer.last_initiation_consumption_ = now;
  }

  static ConsumeResult consume_initiation(const dp::MessageInitiation& msg,
                                          const LocalIdentity& local, const PeerLookup& lookup,
                                          TimePoint now) {
    IkPsk2 state;
    if (NoiseError err = open_initiation(msg, local, state); err != NoiseError::kOk) return {err};

    PeerHandshake* peer = lookup(state.remote_static());
    if (peer == nullptr) return {NoiseError::kUnknownPeer};
    if (!peer->has_valid_static(local)) return {NoiseError::kBadPeerKey, peer};

    crypto::Tai64n timestamp{};
    if (NoiseError err = read_timestamp(state, msg, peer->precomputed_ss_, timestamp);
        err != NoiseError::kOk)
      return {err, peer};
    if (NoiseError err = check_history(*peer, timestamp, now); err != NoiseError::kOk)
      return {err, peer};

    peer->state_ = std::move(state);
    peer->stage_ = HandshakeStage::kConsumedInitiation;
    peer->remote_index_ = msg.sender_index.get();
    record_history(*peer, timestamp, now);
    return {NoiseError::kOk, peer};
  }

  static NoiseError prepare_response(IkPsk2& state, const dp::MessageInitiation& msg,
                                     const Secret<32>& ss, const Secret<32>& psk,
                                     PreparedResponse& out, const Secret<32>* ephemeral) {
    out.remote_static = state.remote_static();
    if (NoiseError err = read_timestamp(state, msg, ss, out.timestamp); err != NoiseError::kOk)
      return err;
    out.remote_index = msg.sender_index.get();
    Secret<32> e;
    fresh_ephemeral(e, ephemeral);
    std::array<std::uint8_t, kResponseBodyLen> body{};
    // e, ee, se, psk, {}
    if (NoiseError err = to_error(state.write_message_2(body, e, psk.span(), {}));
        err != NoiseError::kOk)
      return err;
    write_response(out.message, 0, out.remote_index, body);
    state.split(out.receiving_key, out.sending_key);
    state.clear();
    return NoiseError::kOk;
  }

  static NoiseError accept_initiation(PeerHandshake& peer, const crypto::Tai64n& timestamp,
                                      TimePoint now) {
    if (NoiseError err = check_history(peer, timestamp, now); err != NoiseError::kOk) return err;
    peer.clear();
    record_history(peer, timestamp, now);
    return NoiseError::kOk;
  }

  static NoiseError create_response(dp::MessageResponse& out, PeerHandshake& peer,
                                    std::uint32_t local_index, const Secret<32>* ephemeral) {
    out = dp::MessageResponse{};
    if (peer.stage_ != HandshakeStage::kConsumedInitiation) return NoiseError::kWrongState;

    Secret<32> e;
    fresh_ephemeral(e, ephemeral);
    std::array<std::uint8_t, kResponseBodyLen> body{};
    // e, ee, se, psk, {}
    Status status = peer.state_.write_message_2(body, e, peer.psk_.span(), {});
    if (status != Status::kOk) {
      peer.clear();
      return to_error(status);
    }

    write_response(out, local_index, peer.remote_index_, body);

    peer.stage_ = HandshakeStage::kCreatedResponse;
    peer.local_index_ = local_index;
    return NoiseError::kOk;
  }

  static ConsumeResult consume_response(const dp::MessageResponse& msg, const LocalIdentity& local,
                                        const IndexLookup& lookup) {
    if (!has_type(msg.header, dp::MessageType::kResponse)) return {NoiseError::kMalformed};
    if (!local.has_identity()) return {NoiseError::kNoIdentity};

    const std::uint32_t receiver_index = msg.receiver_index.get();
    PeerHandshake* peer = lookup(receiver_index);
    if (peer == nullptr) return {NoiseError::kUnknownIndex};
    if (peer->stage_ != HandshakeStage::kCreatedInitiation) return {NoiseError::kWrongState, peer};
    if (peer->local_index_ != receiver_index) return {NoiseError::kUnknownIndex, peer};

    std::array<std::uint8_t, kResponseBodyLen> body{};
    auto it =
        std::copy(msg.unencrypted_ephemeral.begin(), msg.unencrypted_ephemeral.end(), body.begin());
    std::copy(msg.encrypted_nothing.begin(), msg.encrypted_nothing.end(), it);

    IkPsk2 state;
    state.copy_from(peer->state_);
    // e, ee, se, psk, {}
    Status status = state.read_message_2(body, local.private_key, peer->psk_.span(), {});
    if (status != Status::kOk) return {to_error(status), peer};

    peer->state_ = std::move(state);
    peer->stage_ = HandshakeStage::kConsumedResponse;
    peer->remote_index_ = msg.sender_index.get();
    return {NoiseError::kOk, peer};
  }

  static std::optional<Keypair> begin_session(PeerHandshake& peer, TimePoint now) {
    Keypair keypair;
    // Whitepaper 5.4.5: (T_i^send = T_r^recv, T_i^recv = T_r^send) = KDF2(C, empty).
    if (peer.stage_ == HandshakeStage::kConsumedResponse) {
      peer.state_.split(keypair.sending_key, keypair.receiving_key);
      keypair.is_initiator = true;
    } else if (peer.stage_ == HandshakeStage::kCreatedResponse) {
      peer.state_.split(keypair.receiving_key, keypair.sending_key);
      keypair.is_initiator = false;
    } else {
      return std::nullopt;
    }
    keypair.local_index = peer.local_index_;
    keypair.remote_index = peer.remote_index_;
    keypair.birth = now;
    peer.clear();
    return keypair;
  }

  static void precompute(PeerHandshake& peer, const LocalIdentity& local) {
    // ss; an all-zero result (low-order peer key) leaves it zero = invalid.
    peer.static_ =
        crypto::x25519(peer.precomputed_ss_.span(), local.private_key.span(), peer.remote_static_)
            ? PeerHandshake::Static::kValid
            : PeerHandshake::Static::kLowOrder;
    if (peer.static_ != PeerHandshake::Static::kValid) peer.precomputed_ss_.clear();
  }
};

LocalIdentity LocalIdentity::from_private_key(std::span<const std::uint8_t, 32> private_key) {
  LocalIdentity identity;
  identity.private_key.assign(private_key);
  crypto::x25519_public(identity.public_key, identity.private_key.span());
  return identity;
}

std::string_view to_string(NoiseError error) {
  switch (error) {
    case NoiseError::kOk:
      return "ok";
    case NoiseError::kMalformed:
      return "malformed message";
    case NoiseError::kNoIdentity:
      return "no local private key";
    case NoiseError::kBadPeerKey:
      return "peer public key is low order";
    case NoiseError::kZeroDh:
      return "all-zero Diffie-Hellman result";
    case NoiseError::kDecryptFailed:
      return "authentication failed";
    case NoiseError::kUnknownPeer:
      return "unknown peer static key";
    case NoiseError::kReplayedTimestamp:
      return "replayed or old initiation timestamp";
    case NoiseError::kFlood:
      return "initiations arriving too fast";
    case NoiseError::kWrongState:
      return "handshake not at the expected step";
    case NoiseError::kUnknownIndex:
      return "unknown receiver index";
  }
  return "unknown error";
}

PeerHandshake::PeerHandshake(std::span<const std::uint8_t, 32> remote_static,
                             const crypto::Secret<32>* psk) {
  std::copy(remote_static.begin(), remote_static.end(), remote_static_.begin());
  set_preshared_key(psk);
}

void PeerHandshake::local_identity_changed() {
  clear();
  precomputed_ss_.clear();
  static_ = Static::kNotComputed;
}

bool PeerHandshake::has_valid_static(const LocalIdentity& local) {
  // The verbs check has_identity() first; without one there is nothing to
  // compute with, and nothing is cached.
  if (!local.has_identity()) return false;
  if (static_ == Static::kNotComputed) NoiseAccess::precompute(*this, local);
  return static_ == Static::kValid;
}

void PeerHandshake::set_preshared_key(const crypto::Secret<32>* psk) {
  if (psk != nullptr) {
    psk_.assign(psk->span());
  } else {
    psk_.clear();
  }
}

void PeerHandshake::clear() {
  state_.clear();
  stage_ = HandshakeStage::kZeroed;
  local_index_ = 0;
  remote_index_ = 0;
}

NoiseError create_initiation(dp::MessageInitiation& out, PeerHandshake& peer,
                             const LocalIdentity& local, std::uint32_t local_index,
                             const crypto::Tai64n& timestamp, const crypto::Secret<32>* ephemeral) {
  return NoiseAccess::create_initiation(out, peer, local, local_index, timestamp, ephemeral);
}

ConsumeResult consume_initiation(const dp::MessageInitiation& msg, const LocalIdentity& local,
                                 const PeerLookup& lookup, TimePoint now) {
  return NoiseAccess::consume_initiation(msg, local, lookup, now);
}

NoiseError create_response(dp::MessageResponse& out, PeerHandshake& peer, std::uint32_t local_index,
                           const crypto::Secret<32>* ephemeral) {
  return NoiseAccess::create_response(out, peer, local_index, ephemeral);
}

ConsumeResult consume_response(const dp::MessageResponse& msg, const LocalIdentity& local,
                               const IndexLookup& lookup) {
  return NoiseAccess::consume_response(msg, local, lookup);
}

std::optional<Keypair> begin_session(PeerHandshake& peer, TimePoint now) {
  return NoiseAccess::begin_session(peer, now);
}

NoiseError open_initiation(const dp::MessageInitiation& msg, const LocalIdentity& local,
                           noise::IkPsk2& state) {
  return NoiseAccess::open_initiation(msg, local, state);
}

NoiseError prepare_response(noise::IkPsk2& state, const dp::MessageInitiation& msg,
                            const crypto::Secret<32>& ss, const crypto::Secret<32>& psk,
                            PreparedResponse& out, const crypto::Secret<32>* ephemeral) {
  return NoiseAccess::prepare_response(state, msg, ss, psk, out, ephemeral);
}

NoiseError accept_initiation(PeerHandshake& peer, const crypto::Tai64n& timestamp, TimePoint now) {
  return NoiseAccess::accept_initiation(peer, timestamp, now);
}

Keypair finish_response(PreparedResponse& prepared, std::uint32_t local_index, TimePoint now) {
  prepared.message.sender_index.set(local_index);
  Keypair keypair;
  keypair.sending_key.assign(prepared.sending_key.span());
  keypair.receiving_key.assign(prepared.receiving_key.span());
  prepared.sending_key.clear();
  prepared.receiving_key.clear();
  keypair.local_index = local_index;
  keypair.remote_index = prepared.remote_index;
  keypair.is_initiator = false;
  keypair.birth = now;
  return keypair;
}

}  // namespace wghub::ctl
