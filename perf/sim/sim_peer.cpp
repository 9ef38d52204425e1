// See sim_peer.hpp.
#include "perf/sim/sim_peer.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>

#include "crypto/aead.hpp"
#include "crypto/base64.hpp"
#include "crypto/tai64n.hpp"
#include "dataplane/messages.hpp"

namespace wghub::perfsim {

namespace {

constexpr std::size_t kTunnelMtu = 1420;

std::array<std::uint8_t, 32> key_from_seed(std::uint8_t seed) {
  std::array<std::uint8_t, 32> key;
  key.fill(seed);
  return key;
}

template <typename Message>
std::span<std::uint8_t> bytes_of(Message& m) {
  return {reinterpret_cast<std::uint8_t*>(&m), sizeof m};
}

template <typename Message>
Bytes to_bytes(const Message& m) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(&m);
  return Bytes(p, p + sizeof m);
}

template <typename Message>
bool from_bytes(const Bytes& b, Message& out) {
  if (b.size() != sizeof out) return false;
  std::memcpy(&out, b.data(), sizeof out);
  return true;
}

ctl::SourceAddress hub_source() {
  // mac1 does not cover the source address; mac2 checks are the hub's.
  return ctl::SourceAddress::ipv4(0u, 0);
}

}  // namespace

SimPeer::SimPeer(std::string name, std::uint8_t key_seed, Outer outer,
                 const ctl::PublicKey& hub_public)
    : SimPeer(std::move(name), key_from_seed(key_seed), 0x51000000u + key_seed * 0x100u, outer,
              hub_public) {}

SimPeer::SimPeer(std::string name, const std::array<std::uint8_t, 32>& private_key,
                 std::uint32_t index_base, Outer outer, const ctl::PublicKey& hub_public)
    : name_(std::move(name)),
      local_(ctl::LocalIdentity::from_private_key(private_key)),
      outer_(outer),
      handshake_(hub_public),
      maker_(hub_public),
      checker_(local_.public_key),
      next_index_(index_base),
      timestamp_s_(static_cast<std::uint64_t>(std::time(nullptr))) {}

std::string SimPeer::public_key_base64() const {
  return crypto::key_to_base64(local_.public_key.data());
}

Bytes SimPeer::create_initiation() {
  dp::MessageInitiation msg{};
  // A synthetic clock one second ahead per initiation: always newer than
  // the last one the hub accepted, whatever the real clock's resolution.
  timespec wall{};
  wall.tv_sec = static_cast<time_t>(++timestamp_s_);
  if (ctl::create_initiation(msg, handshake_, local_, ++next_index_, crypto::tai64n_from(wall)) !=
      ctl::NoiseError::kOk)
    return {};
  maker_.add_macs(bytes_of(msg), ctl::Clock::now());
  return to_bytes(msg);
}

bool SimPeer::consume_response(const Bytes& message) {
  dp::MessageResponse msg{};
  if (!from_bytes(message, msg)) return false;
  if (checker_.validate(message, hub_source(), ctl::Clock::now(), false) ==
      ctl::MacState::kInvalidMac)
    return false;
  const std::uint32_t pending = handshake_.local_index();
  const ctl::ConsumeResult r = ctl::consume_response(
      msg, local_, [&](std::uint32_t index) { return index == pending ? &handshake_ : nullptr; });
  if (!r.ok()) return false;
  session_ = ctl::begin_session(handshake_, ctl::Clock::now());
  send_counter_ = 0;
  window_.reset();
  return session_.has_value();
}

bool SimPeer::consume_cookie_reply(const Bytes& message) {
  dp::MessageCookieReply reply{};
  if (!from_bytes(message, reply)) return false;
  if (reply.receiver_index.get() != handshake_.local_index()) return false;
  return maker_.consume_cookie_reply(reply, ctl::Clock::now());
}

std::optional<Bytes> SimPeer::consume_initiation(const Bytes& message) {
  dp::MessageInitiation msg{};
  if (!from_bytes(message, msg)) return std::nullopt;
  const ctl::TimePoint now = ctl::Clock::now();
  if (checker_.validate(message, hub_source(), now, false) == ctl::MacState::kInvalidMac)
    return std::nullopt;
  const ctl::ConsumeResult r = ctl::consume_initiation(
      msg, local_,
      [&](const ctl::PublicKey& key) {
        return key == handshake_.remote_static() ? &handshake_ : nullptr;
      },
      now);
  if (!r.ok()) return std::nullopt;
  dp::MessageResponse response{};
  if (ctl::create_response(response, handshake_, ++next_index_) != ctl::NoiseError::kOk)
    return std::nullopt;
  maker_.add_macs(bytes_of(response), now);
  session_ = ctl::begin_session(handshake_, now);
  send_counter_ = 0;
  window_.reset();
  return to_bytes(response);
}

Bytes SimPeer::seal(const Bytes& inner) {
  return seal_with_counter(inner, send_counter_++);
}

Bytes SimPeer::seal_with_counter(const Bytes& inner, std::uint64_t counter) const {
  const std::size_t padded = dp::padded_length(inner.size(), std::max(inner.size(), kTunnelMtu));
  Bytes msg(dp::kMessageDataHeaderSize + padded + crypto::kAeadTagLen, 0);
  dp::MessageDataHeader hdr{};
  hdr.header.set_type(dp::MessageType::kData);
  hdr.receiver_index.set(session_->remote_index);
  hdr.counter.set(counter);
  std::memcpy(msg.data(), &hdr, sizeof hdr);
  std::uint8_t* body = msg.data() + dp::kMessageDataHeaderSize;
  std::copy(inner.begin(), inner.end(), body);
  crypto::aead_seal(body, body, padded, nullptr, 0, counter, session_->sending_key.data());
  return msg;
}

std::optional<SimPeer::Opened> SimPeer::open(const Bytes& message) {
  if (!session_ || message.size() < dp::kMessageDataMinSize) return std::nullopt;
  dp::MessageDataHeader hdr;
  std::memcpy(&hdr, message.data(), sizeof hdr);
  if (hdr.header.message_type() != dp::MessageType::kData ||
      hdr.receiver_index.get() != session_->local_index)
    return std::nullopt;
  Opened out;
  out.counter = hdr.counter.get();
  const std::size_t sealed_len = message.size() - dp::kMessageDataHeaderSize;
  out.plaintext.resize(sealed_len - crypto::kAeadTagLen);
  if (!crypto::aead_open(out.plaintext.data(), message.data() + dp::kMessageDataHeaderSize,
                         sealed_len, nullptr, 0, out.counter, session_->receiving_key.data()))
    return std::nullopt;
  if (!window_.check_and_update(out.counter)) return std::nullopt;
  return out;
}

Bytes SimPeer::frame_to(const HubWan& hub, const Bytes& wireguard_message) const {
  if (outer_.v6)
    return ethernet_frame(
        hub.mac, outer_.mac, kEtherTypeIpv6,
        udp6_packet(outer_.ip6, hub.ip6, outer_.port, hub.port, wireguard_message));
  return ethernet_frame(hub.mac, outer_.mac, kEtherTypeIpv4,
                        udp_packet(outer_.ip, hub.ip, outer_.port, hub.port, wireguard_message));
}

}  // namespace wghub::perfsim
