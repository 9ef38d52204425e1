#include "perf/common/udp_peer.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <utility>

#include "control/index_table.hpp"
#include "control/source_address.hpp"
#include "crypto/aead.hpp"
#include "crypto/base64.hpp"
#include "crypto/tai64n.hpp"

namespace wghub::udppeer {
namespace {

ctl::SourceAddress source_of(const sockaddr_in& sa) {
  std::array<std::uint8_t, 4> a;
  std::memcpy(a.data(), &sa.sin_addr, 4);
  return ctl::SourceAddress::ipv4(a, ntohs(sa.sin_port));
}

template <typename Message>
std::span<std::uint8_t> bytes_of(Message& msg) {
  return {reinterpret_cast<std::uint8_t*>(&msg), sizeof msg};
}

}  // namespace

std::optional<std::array<std::uint8_t, 32>> read_key_file(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text)) return std::nullopt;
  return crypto::key_from_base64(text);
}

bool read_psk_file(const std::string& path, crypto::Secret<32>& psk) {
  auto bytes = read_key_file(path);
  if (!bytes) return false;
  psk.assign(*bytes);
  crypto::wipe(bytes->data(), bytes->size());
  return true;
}

ctl::LocalIdentity identity_from(std::array<std::uint8_t, 32>& private_key) {
  auto local = ctl::LocalIdentity::from_private_key(private_key);
  crypto::wipe(private_key.data(), private_key.size());
  return local;
}

std::optional<sockaddr_in> parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (inet_pton(AF_INET, text.substr(0, colon).c_str(), &sa.sin_addr) != 1) return std::nullopt;
  try {
    unsigned long port = std::stoul(text.substr(colon + 1));
    if (port > 65535) return std::nullopt;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return sa;
}

std::vector<std::uint8_t> receive(int fd, ctl::TimePoint until, sockaddr_in* from) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(until - ctl::Clock::now());
  pollfd pfd{fd, POLLIN, 0};
  if (poll(&pfd, 1, static_cast<int>(std::max<long>(0, left.count()))) <= 0) return {};
  std::vector<std::uint8_t> buf(65536);
  sockaddr_in source{};
  socklen_t source_len = sizeof source;
  ssize_t n = recvfrom(fd, buf.data(), buf.size(), MSG_DONTWAIT,
                       reinterpret_cast<sockaddr*>(&source), &source_len);
  if (n < 4) return {};  // also ECONNREFUSED on a connected socket
  if (from) *from = source;
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

Handshaker::Handshaker(ctl::LocalIdentity local, const ctl::PublicKey& remote,
                       const crypto::Secret<32>* psk)
    : local_(std::move(local)),
      handshake_(remote, psk),
      checker_(local_.public_key),
      maker_(remote) {}

ctl::NoiseError Handshaker::create_initiation(dp::MessageInitiation& out, ctl::TimePoint now) {
  auto err = ctl::create_initiation(out, handshake_, local_, ctl::secure_random_index(),
                                    crypto::tai64n_now());
  if (err == ctl::NoiseError::kOk) maker_.add_macs(bytes_of(out), now);
  return err;
}

bool Handshaker::consume_cookie_reply(const dp::MessageCookieReply& reply, ctl::TimePoint now) {
  return reply.receiver_index.get() == handshake_.local_index() &&
         maker_.consume_cookie_reply(reply, now);
}

Consumed Handshaker::consume_response(std::span<const std::uint8_t> message,
                                      const sockaddr_in& from, ctl::TimePoint now) {
  if (checker_.validate(message, source_of(from), now, false) == ctl::MacState::kInvalidMac)
    return {.bad_mac = true};
  const auto& msg = *reinterpret_cast<const dp::MessageResponse*>(message.data());
  auto result = ctl::consume_response(msg, local_, [this](std::uint32_t index) {
    return index == handshake_.local_index() ? &handshake_ : nullptr;
  });
  return {.error = result.error};
}

Consumed Handshaker::consume_initiation(std::span<const std::uint8_t> message,
                                        const sockaddr_in& from, ctl::TimePoint now) {
  if (checker_.validate(message, source_of(from), now, false) == ctl::MacState::kInvalidMac)
    return {.bad_mac = true};
  const auto& msg = *reinterpret_cast<const dp::MessageInitiation*>(message.data());
  auto result = ctl::consume_initiation(
      msg, local_,
      [this](const ctl::PublicKey& key) {
        return key == handshake_.remote_static() ? &handshake_ : nullptr;
      },
      now);
  return {.error = result.error};
}

ctl::NoiseError Handshaker::create_response(dp::MessageResponse& out, ctl::TimePoint now) {
  auto err = ctl::create_response(out, handshake_, ctl::secure_random_index());
  if (err == ctl::NoiseError::kOk) maker_.add_macs(bytes_of(out), now);
  return err;
}

std::optional<ctl::Keypair> Handshaker::begin_session(ctl::TimePoint now) {
  return ctl::begin_session(handshake_, now);
}

std::vector<std::uint8_t> Session::seal(std::span<const std::uint8_t> inner, std::size_t mtu) {
  const std::size_t padded = dp::padded_length(inner.size(), mtu);
  std::vector<std::uint8_t> msg(dp::kMessageDataHeaderSize + padded + crypto::kAeadTagLen, 0);
  auto& hdr = *reinterpret_cast<dp::MessageDataHeader*>(msg.data());
  hdr.header.set_type(dp::MessageType::kData);
  hdr.receiver_index.set(keys.remote_index);
  const std::uint64_t counter = send_counter++;
  hdr.counter.set(counter);
  std::uint8_t* body = msg.data() + dp::kMessageDataHeaderSize;
  std::memcpy(body, inner.data(), inner.size());
  crypto::aead_seal(body, body, padded, nullptr, 0, counter, keys.sending_key.data());
  return msg;
}

Session::Opened Session::open(std::span<std::uint8_t> message) {
  const auto& hdr = *reinterpret_cast<const dp::MessageDataHeader*>(message.data());
  Opened out;
  if (hdr.receiver_index.get() != keys.local_index) return out;
  out.counter = hdr.counter.get();
  std::uint8_t* body = message.data() + dp::kMessageDataHeaderSize;
  const std::size_t body_len = message.size() - dp::kMessageDataHeaderSize;
  if (!crypto::aead_open(body, body, body_len, nullptr, 0, out.counter,
                         keys.receiving_key.data())) {
    out.status = Open::kNotAuthentic;
    return out;
  }
  // The counter is trusted only once the message authenticated (5.4.6).
  if (!window.check_and_update(out.counter)) {
    out.status = Open::kReplayed;
    return out;
  }
  out.status = Open::kOk;
  out.plaintext = {body, body_len - crypto::kAeadTagLen};
  return out;
}

}  // namespace wghub::udppeer
