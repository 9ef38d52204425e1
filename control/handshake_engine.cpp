// The handshake stage of the control thread; see handshake_engine.hpp. The
// order of checks follows the kernel's wg_receive_handshake_packet: length,
// mac1 (mac2 and the rate limit under load are the workers'), then Noise.
#include "control/handshake_engine.hpp"

#include <cstring>
#include <unordered_set>

#include "crypto/tai64n.hpp"
#include "dataplane/messages.hpp"

namespace wghub::ctl {

namespace {

template <typename Message>
std::span<std::uint8_t> bytes_of(Message& m) {
  return {reinterpret_cast<std::uint8_t*>(&m), sizeof m};
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

struct HandshakeEngine::Peer {
  Peer(const HandshakePeerSettings& s, std::uint64_t generation)
      : slot(s.slot),
        generation(generation),
        name(s.name),
        handshake(s.public_key, s.preshared_key),
        cookie(s.public_key),
        endpoint(s.endpoint) {}

  std::uint32_t slot;
  std::uint64_t generation;  // distinguishes a re-added peer in the same slot
  std::string name;
  PeerHandshake handshake;
  CookieMaker cookie;  // macs on what we send this peer; the cookie it gave us
  std::optional<SourceAddress> endpoint;
  std::uint32_t pending_index = 0;  // our index of an initiation in flight
  std::optional<TimePoint> last_initiation;
};

HandshakeEngine::HandshakeEngine(LocalIdentity local, HandshakeSink& sink)
    : local_(std::move(local)), sink_(sink), checker_(local_.public_key), directory_(local_) {}

HandshakeEngine::~HandshakeEngine() = default;

void HandshakeEngine::add_peer(const HandshakePeerSettings& settings) {
  remove_peer(settings.slot);
  const std::uint64_t generation = next_generation_++;
  auto peer = std::make_unique<Peer>(settings, generation);
  if (auto old = retired_.find(settings.public_key); old != retired_.end()) {
    peer->handshake.restore_latest_timestamp(old->second);
    retired_.erase(old);  // its entry in retired_order_ is skipped when it comes up
  }
  directory_.set(settings.public_key, settings.slot, generation, settings.preshared_key);
  peers_[settings.slot] = std::move(peer);
}

void HandshakeEngine::remove_peer(std::uint32_t slot) {
  auto it = peers_.find(slot);
  if (it == peers_.end()) return;
  set_pending_index(*it->second, 0);
  const PeerHandshake& hs = it->second->handshake;
  if (hs.latest_timestamp() != crypto::Tai64n{}) retire(hs.remote_static(), hs.latest_timestamp());
  directory_.erase(hs.remote_static());
  peers_.erase(it);
}

void HandshakeEngine::retire(const PublicKey& key, const crypto::Tai64n& latest) {
  if (retired_.insert_or_assign(key, latest).second) retired_order_.push_back(key);
  // Oldest removals first; an order entry whose key came back (or was
  // removed again: insert_or_assign above kept its first place) is skipped.
  while (retired_.size() > kRetiredKeys && !retired_order_.empty()) {
    if (retired_.erase(retired_order_.front()) != 0) ++counters_.retired_keys_forgotten;
    retired_order_.pop_front();
  }
  // Order entries of keys that came back pile up with churn: compact to one
  // entry per retired key (amortised O(1) a removal).
  if (retired_order_.size() > 2 * retired_.size() + 1024) {
    std::deque<PublicKey> kept;
    std::unordered_set<PublicKey, PublicKeyHash> seen;
    for (const PublicKey& k : retired_order_)
      if (retired_.contains(k) && seen.insert(k).second) kept.push_back(k);
    retired_order_ = std::move(kept);
  }
}

void HandshakeEngine::set_preshared_key(std::uint32_t slot, const crypto::Secret<32>* psk) {
  auto it = peers_.find(slot);
  if (it == peers_.end()) return;
  it->second->handshake.set_preshared_key(psk);
  directory_.set_preshared_key(it->second->handshake.remote_static(), psk);
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
                                                 const SourceAddress& from, TimePoint now) {
  if (message.size() < sizeof(dp::MessageHeader)) return drop(HandshakeDrop::kBadLength);
  const auto type = reinterpret_cast<const dp::MessageHeader*>(message.data())->message_type();
  switch (type) {
    case dp::MessageType::kInitiation: {
      Prepared prepared;
      prepare_initiation(message, prepared);
      return complete_initiation(prepared, from, now);
    }
    case dp::MessageType::kResponse:
      if (message.size() != dp::kMessageResponseSize) return drop(HandshakeDrop::kBadLength);
      if (!checker_.mac1_valid(message)) return drop(HandshakeDrop::kInvalidMac);
      return on_response(message, from, now);
    case dp::MessageType::kCookieReply:
      if (message.size() != dp::kMessageCookieReplySize) return drop(HandshakeDrop::kBadLength);
      return on_cookie_reply(message, now);
    default:
      return drop(HandshakeDrop::kBadLength);
  }
}

void HandshakeEngine::prepare_initiation(std::span<const std::uint8_t> message, Prepared& out,
                                         const crypto::Secret<32>* ephemeral) const {
  if (message.size() != dp::kMessageInitiationSize) {
    out.bad_length = true;
    return;
  }
  if (!checker_.mac1_valid(message)) {
    out.bad_mac = true;
    return;
  }
  const auto& msg = *reinterpret_cast<const dp::MessageInitiation*>(message.data());
  noise::IkPsk2 state;
  out.error = open_initiation(msg, local_, state);
  if (out.error != NoiseError::kOk) return;
  ResponderDirectory::Found peer;
  switch (directory_.find(state.remote_static(), peer)) {
    case ResponderDirectory::Lookup::kUnknown:
      out.error = NoiseError::kUnknownPeer;
      return;
    case ResponderDirectory::Lookup::kLowOrder:
      out.error = NoiseError::kBadPeerKey;
      out.slot = peer.slot;
      out.generation = peer.generation;
      return;
    case ResponderDirectory::Lookup::kFound:
      break;
  }
  out.slot = peer.slot;
  out.generation = peer.generation;
  out.error = prepare_response(state, msg, peer.ss, peer.psk, out.response, ephemeral);
}

HandshakeEngine::Result HandshakeEngine::complete_initiation(Prepared& prepared,
                                                             const SourceAddress& from,
                                                             TimePoint now) {
  if (prepared.bad_length) return drop(HandshakeDrop::kBadLength);
  if (prepared.bad_mac) return drop(HandshakeDrop::kInvalidMac);
  ++counters_.initiations_received;
  // The peer the thread found may have been removed or replaced since.
  auto it = prepared.slot ? peers_.find(*prepared.slot) : peers_.end();
  Peer* peer = it != peers_.end() && it->second->generation == prepared.generation
                   ? it->second.get()
                   : nullptr;
  NoiseError err = prepared.error;
  if (err == NoiseError::kOk && peer == nullptr) err = NoiseError::kUnknownPeer;
  if (err == NoiseError::kOk)
    err = accept_initiation(peer->handshake, prepared.response.timestamp, now);
  if (err != NoiseError::kOk) {
    ++counters_.noise_errors[static_cast<std::size_t>(err)];
    Result r = drop(HandshakeDrop::kNoise, peer ? std::optional(peer->slot) : std::nullopt);
    r.noise_error = err;
    return r;
  }
  // Accepting abandoned our own initiation in flight, if any.
  set_pending_index(*peer, 0);

  const auto index = sink_.reserve_index();
  if (!index) return drop(HandshakeDrop::kNoIndex, peer->slot);
  Keypair keypair = finish_response(prepared.response, *index, now);
  auto& response = prepared.response.message;
  peer->cookie.add_macs(bytes_of(response), now);
  learn_endpoint(*peer, from);
  sink_.send_handshake(from, bytes_of(response), peer->slot);
  ++counters_.responses_sent;

  // The response's index now names the new keypair (the sink owns it).
  ++counters_.sessions_derived;
  sink_.install_keypair(peer->slot, std::move(keypair));
  Result r;
  r.outcome = HandshakeOutcome::kSessionDerived;
  r.peer_slot = peer->slot;
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
