// The handshake stage of the control thread; see handshake_engine.hpp. The
// order of checks follows the kernel's wg_receive_handshake_packet: length,
// mac1, then (under load) mac2 -> cookie reply or rate limit, then Noise.
#include "control/handshake_engine.hpp"

#include <cstring>

#include "crypto/tai64n.hpp"
#include "dataplane/messages.hpp"

namespace wghub::ctl {

namespace {

template <typename Message>
std::span<std::uint8_t> bytes_of(Message& m) {
  return {reinterpret_cast<std::uint8_t*>(&m), sizeof m};
}

std::uint64_t to_ns(TimePoint t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

}  // namespace

std::string_view to_string(HandshakeDrop drop) {
  switch (drop) {
    case HandshakeDrop::kBadLength:
      return "bad_length";
    case HandshakeDrop::kInvalidMac:
      return "invalid_mac1";
    case HandshakeDrop::kRateLimited:
      return "rate_limited";
    case HandshakeDrop::kNoise:
      return "noise_failed";
    case HandshakeDrop::kUnknownIndex:
      return "unknown_index";
    case HandshakeDrop::kBadCookieReply:
      return "bad_cookie_reply";
    case HandshakeDrop::kNoIndex:
      return "index_space_full";
    case HandshakeDrop::kCount:
      break;
  }
  return "unknown";
}

std::size_t PublicKeyHash::operator()(const PublicKey& key) const noexcept {
  std::size_t h;
  std::memcpy(&h, key.data(), sizeof h);
  return h;
}

struct HandshakeEngine::Peer {
  explicit Peer(const HandshakePeerSettings& s)
      : slot(s.slot),
        name(s.name),
        handshake(s.public_key, s.preshared_key),
        cookie(s.public_key),
        endpoint(s.endpoint) {}

  std::uint32_t slot;
  std::string name;
  PeerHandshake handshake;
  CookieMaker cookie;  // macs on what we send this peer; the cookie it gave us
  std::optional<SourceAddress> endpoint;
  std::uint32_t pending_index = 0;  // our index of an initiation in flight
  std::optional<TimePoint> last_initiation;
};

HandshakeEngine::HandshakeEngine(LocalIdentity local, HandshakeSink& sink)
    : local_(std::move(local)), sink_(sink), checker_(local_.public_key) {}

HandshakeEngine::~HandshakeEngine() = default;

void HandshakeEngine::add_peer(const HandshakePeerSettings& settings) {
  remove_peer(settings.slot);
  auto peer = std::make_unique<Peer>(settings);
  by_key_[settings.public_key] = settings.slot;
  peers_[settings.slot] = std::move(peer);
}

void HandshakeEngine::remove_peer(std::uint32_t slot) {
  auto it = peers_.find(slot);
  if (it == peers_.end()) return;
  set_pending_index(*it->second, 0);
  by_key_.erase(it->second->handshake.remote_static());
  peers_.erase(it);
}

void HandshakeEngine::set_preshared_key(std::uint32_t slot, const crypto::Secret<32>* psk) {
  if (auto it = peers_.find(slot); it != peers_.end()) it->second->handshake.set_preshared_key(psk);
}

HandshakeEngine::Peer* HandshakeEngine::find_by_key(const PublicKey& key) {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : peers_.at(it->second).get();
}

HandshakeEngine::Peer* HandshakeEngine::find_by_pending_index(std::uint32_t index) {
  auto it = by_pending_index_.find(index);
  return it == by_pending_index_.end() ? nullptr : peers_.at(it->second).get();
}

// A peer has at most one initiation in flight; a new one (or a consumed
// initiation from the peer, which overwrites our handshake state) gives the
// old index back.
void HandshakeEngine::set_pending_index(Peer& peer, std::uint32_t index) {
  if (peer.pending_index != 0) {
    by_pending_index_.erase(peer.pending_index);
    sink_.release_index(peer.pending_index);
  }
  peer.pending_index = index;
  if (index != 0) by_pending_index_[index] = peer.slot;
}

void HandshakeEngine::learn_endpoint(Peer& peer, const SourceAddress& from) {
  if (peer.endpoint && *peer.endpoint == from) return;
  peer.endpoint = from;
  sink_.set_endpoint(peer.slot, from);
}

std::optional<SourceAddress> HandshakeEngine::endpoint(std::uint32_t slot) const {
  auto it = peers_.find(slot);
  if (it == peers_.end()) return std::nullopt;
  return it->second->endpoint;
}

void HandshakeEngine::update_endpoint(std::uint32_t slot, const SourceAddress& endpoint) {
  auto it = peers_.find(slot);
  if (it != peers_.end()) it->second->endpoint = endpoint;
}

HandshakeEngine::Result HandshakeEngine::drop(HandshakeDrop why,
                                              std::optional<std::uint32_t> slot) {
  ++counters_.drops[static_cast<std::size_t>(why)];
  Result r;
  r.drop = why;
  r.peer_slot = slot;
  return r;
}

HandshakeEngine::Result HandshakeEngine::receive(std::span<const std::uint8_t> message,
                                                 const SourceAddress& from, TimePoint now,
                                                 bool under_load) {
  if (message.size() < sizeof(dp::MessageHeader)) return drop(HandshakeDrop::kBadLength);
  const auto type = reinterpret_cast<const dp::MessageHeader*>(message.data())->message_type();
  std::size_t expected = 0;
  switch (type) {
    case dp::MessageType::kInitiation:
      expected = dp::kMessageInitiationSize;
      break;
    case dp::MessageType::kResponse:
      expected = dp::kMessageResponseSize;
      break;
    case dp::MessageType::kCookieReply:
      expected = dp::kMessageCookieReplySize;
      break;
    default:
      return drop(HandshakeDrop::kBadLength);
  }
  if (message.size() != expected) return drop(HandshakeDrop::kBadLength);
  if (type == dp::MessageType::kCookieReply) return on_cookie_reply(message, now);

  // Whitepaper 5.3 / kernel receive.c: mac1 always; under load a valid mac2
  // is required (else a cookie reply), and proven sources are rate limited.
  const MacState mac = checker_.validate(message, from, now, under_load);
  if (mac == MacState::kInvalidMac) return drop(HandshakeDrop::kInvalidMac);
  if (under_load) {
    if (mac != MacState::kValidMacWithCookie) {
      dp::MessageCookieReply reply{};
      checker_.create_cookie_reply(reply, message, from, now);
      sink_.send_handshake(from, bytes_of(reply), std::nullopt);
      ++counters_.cookie_replies_sent;
      Result r;
      r.outcome = HandshakeOutcome::kCookieSent;
      return r;
    }
    if (!limiter_.allow(from, to_ns(now))) return drop(HandshakeDrop::kRateLimited);
  }

  if (type == dp::MessageType::kInitiation) return on_initiation(message, from, now);
  return on_response(message, from, now);
}

HandshakeEngine::Result HandshakeEngine::on_initiation(std::span<const std::uint8_t> message,
                                                       const SourceAddress& from, TimePoint now) {
  ++counters_.initiations_received;
  const auto& msg = *reinterpret_cast<const dp::MessageInitiation*>(message.data());
  const ConsumeResult consumed = consume_initiation(
      msg, local_,
      [this](const PublicKey& key) -> PeerHandshake* {
        Peer* peer = find_by_key(key);
        return peer ? &peer->handshake : nullptr;
      },
      now);
  if (!consumed.ok()) {
    ++counters_.noise_errors[static_cast<std::size_t>(consumed.error)];
    Result r = drop(HandshakeDrop::kNoise,
                    consumed.peer ? std::optional(find_by_key(consumed.peer->remote_static())->slot)
                                  : std::nullopt);
    r.noise_error = consumed.error;
    return r;
  }
  Peer& peer = *find_by_key(consumed.peer->remote_static());
  // Consuming overwrote our own initiation in flight, if any.
  set_pending_index(peer, 0);

  const auto index = sink_.reserve_index();
  if (!index) {
    peer.handshake.clear();
    return drop(HandshakeDrop::kNoIndex, peer.slot);
  }
  dp::MessageResponse response{};
  const NoiseError err = create_response(response, peer.handshake, *index);
  if (err != NoiseError::kOk) {
    sink_.release_index(*index);
    ++counters_.noise_errors[static_cast<std::size_t>(err)];
    Result r = drop(HandshakeDrop::kNoise, peer.slot);
    r.noise_error = err;
    return r;
  }
  peer.cookie.add_macs(bytes_of(response), now);
  learn_endpoint(peer, from);
  sink_.send_handshake(from, bytes_of(response), peer.slot);
  ++counters_.responses_sent;

  // The response's index now names the new keypair (the sink owns it).
  auto keypair = begin_session(peer.handshake, now);
  ++counters_.sessions_derived;
  sink_.install_keypair(peer.slot, std::move(*keypair));
  Result r;
  r.outcome = HandshakeOutcome::kSessionDerived;
  r.peer_slot = peer.slot;
  return r;
}

HandshakeEngine::Result HandshakeEngine::on_response(std::span<const std::uint8_t> message,
                                                     const SourceAddress& from, TimePoint now) {
  ++counters_.responses_received;
  const auto& msg = *reinterpret_cast<const dp::MessageResponse*>(message.data());
  const std::uint32_t index = msg.receiver_index.get();
  Peer* peer = find_by_pending_index(index);
  if (peer == nullptr) return drop(HandshakeDrop::kUnknownIndex);
  const ConsumeResult consumed = consume_response(
      msg, local_,
      [&](std::uint32_t i) -> PeerHandshake* { return i == index ? &peer->handshake : nullptr; });
  if (!consumed.ok()) {
    ++counters_.noise_errors[static_cast<std::size_t>(consumed.error)];
    Result r = drop(HandshakeDrop::kNoise, peer->slot);
    r.noise_error = consumed.error;
    return r;
  }
  learn_endpoint(*peer, from);
  auto keypair = begin_session(peer->handshake, now);
  // The pending index becomes the keypair's: no longer ours to release.
  by_pending_index_.erase(index);
  peer->pending_index = 0;
  ++counters_.sessions_derived;
  sink_.install_keypair(peer->slot, std::move(*keypair));
  // The initiator speaks first (whitepaper 5.4.5): a keepalive confirms the
  // session to the responder even when we have no data to send.
  sink_.send_keepalive(peer->slot);
  Result r;
  r.outcome = HandshakeOutcome::kSessionDerived;
  r.peer_slot = peer->slot;
  return r;
}

HandshakeEngine::Result HandshakeEngine::on_cookie_reply(std::span<const std::uint8_t> message,
                                                         TimePoint now) {
  ++counters_.cookie_replies_received;
  const auto& reply = *reinterpret_cast<const dp::MessageCookieReply*>(message.data());
  // Only initiations stay pending; a cookie answering one of our responses
  // finds no handshake (its index already names a keypair) and is dropped.
  Peer* peer = find_by_pending_index(reply.receiver_index.get());
  if (peer == nullptr) return drop(HandshakeDrop::kUnknownIndex);
  if (!peer->cookie.consume_cookie_reply(reply, now))
    return drop(HandshakeDrop::kBadCookieReply, peer->slot);
  Result r;
  r.outcome = HandshakeOutcome::kCookieConsumed;
  r.peer_slot = peer->slot;
  return r;
}

void HandshakeEngine::clear_handshake(std::uint32_t slot) {
  auto it = peers_.find(slot);
  if (it == peers_.end()) return;
  set_pending_index(*it->second, 0);
  it->second->handshake.clear();
}

bool HandshakeEngine::initiate(std::uint32_t slot, TimePoint now, bool force) {
  auto it = peers_.find(slot);
  if (it == peers_.end() || !it->second->endpoint) return false;
  Peer& peer = *it->second;
  if (!force && peer.last_initiation && now < *peer.last_initiation + dp::kRekeyTimeout)
    return false;
  const auto index = sink_.reserve_index();
  if (!index) return false;
  dp::MessageInitiation msg{};
  if (create_initiation(msg, peer.handshake, local_, *index, crypto::tai64n_now()) !=
      NoiseError::kOk) {
    sink_.release_index(*index);
    return false;
  }
  set_pending_index(peer, *index);
  peer.cookie.add_macs(bytes_of(msg), now);
  sink_.send_handshake(*peer.endpoint, bytes_of(msg), peer.slot);
  ++counters_.initiations_sent;
  peer.last_initiation = now;
  return true;
}

}  // namespace wghub::ctl
