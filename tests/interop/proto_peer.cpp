// wghub-proto-peer: wghub's protocol core (Noise_IKpsk2, cookies' mac1,
// transport keypairs, replay window, padding) driving one WireGuard peer over
// a plain UDP socket, with no DPDK and no tun device. Used by the interop test
// against stock wireguard-go:
//
//   responder: consume the peer's initiation, answer it, decrypt its ICMP
//              echo requests to --address and send encrypted echo replies;
//   initiator: send an initiation to --initiate, consume the response, send
//              ICMP echo requests to --ping and wait for the encrypted replies.
//
// It exits 0 once the requested number of echo exchanges succeeded, 1 on a
// protocol failure or timeout, 2 on a usage error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "control/noise.hpp"
#include "crypto/base64.hpp"
#include "dataplane/messages.hpp"
#include "perf/common/tool_args.hpp"
#include "perf/common/udp_peer.hpp"

namespace {

using namespace wghub;
using ctl::Clock;

constexpr std::size_t kMtu = 1420;  // wireguard-go's default interface MTU

void usage(FILE* to) {
  std::fprintf(to,
               "usage: wghub-proto-peer --private-key FILE --peer-public-key BASE64\n"
               "                        --listen IP:PORT --address IP [options]\n"
               "  --preshared-key FILE   the peer's preshared key (wg genpsk format)\n"
               "  --echo-replies N       responder: exit after answering N echo requests\n"
               "  --initiate IP:PORT     initiator: start the handshake with this endpoint\n"
               "  --ping IP              initiator: send echo requests to this inner address\n"
               "  --count N              initiator: echo exchanges to complete (default 3)\n"
               "  --timeout SECONDS      give up after this long (default 20)\n");
}

struct Options {
  std::string private_key_file, peer_public_key, psk_file, listen, address, initiate, ping;
  int echo_replies = 3;
  int count = 3;
  int timeout_s = 20;
};

std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  if (!tools::ToolArgs("proto_peer", usage)
           .option("--private-key", o.private_key_file)
           .option("--peer-public-key", o.peer_public_key)
           .option("--preshared-key", o.psk_file)
           .option("--listen", o.listen)
           .option("--address", o.address)
           .option("--initiate", o.initiate)
           .option("--ping", o.ping)
           .option("--echo-replies", o.echo_replies)
           .option("--count", o.count)
           .option("--timeout", o.timeout_s)
           .parse(argc, argv))
    return std::nullopt;
  if (o.private_key_file.empty() || o.peer_public_key.empty() || o.listen.empty() ||
      o.address.empty() || (!o.initiate.empty() && o.ping.empty()))
    return std::nullopt;
  return o;
}

std::uint16_t inet_checksum(const std::uint8_t* p, std::size_t len) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += std::uint32_t(p[i]) << 8 | p[i + 1];
  if (len & 1) sum += std::uint32_t(p[len - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

// An IPv4 ICMP echo (request type 8, reply type 0) with a 56-byte payload.
std::vector<std::uint8_t> make_echo(std::uint8_t type, in_addr src, in_addr dst, std::uint16_t id,
                                    std::uint16_t seq, const std::uint8_t* payload,
                                    std::size_t payload_len) {
  std::vector<std::uint8_t> p(20 + 8 + payload_len, 0);
  p[0] = 0x45;
  put16(&p[2], static_cast<std::uint16_t>(p.size()));
  p[8] = 64;  // TTL
  p[9] = IPPROTO_ICMP;
  std::memcpy(&p[12], &src, 4);
  std::memcpy(&p[16], &dst, 4);
  put16(&p[10], inet_checksum(p.data(), 20));
  p[20] = type;
  put16(&p[24], id);
  put16(&p[26], seq);
  std::memcpy(&p[28], payload, payload_len);
  put16(&p[22], inet_checksum(&p[20], p.size() - 20));
  return p;
}

class ProtoPeer {
 public:
  ProtoPeer(const Options& o, ctl::LocalIdentity local, const std::array<std::uint8_t, 32>& peer,
            const crypto::Secret<32>* psk)
      : opt_(o), handshaker_(std::move(local), peer, psk) {}

  bool open_socket() {
    auto listen = udppeer::parse_endpoint(opt_.listen);
    if (!listen || inet_pton(AF_INET, opt_.address.c_str(), &inner_) != 1) return false;
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&*listen), sizeof *listen) != 0) {
      std::perror("proto-peer: bind");
      return false;
    }
    return true;
  }

  int run() {
    deadline_ = Clock::now() + std::chrono::seconds(opt_.timeout_s);
    if (!opt_.initiate.empty() && !send_initiation()) return 1;
    while (Clock::now() < deadline_) {
      sockaddr_in from{};
      auto pkt = udppeer::receive(fd_, Clock::now() + std::chrono::milliseconds(200), &from);
      if (pkt.empty()) continue;
      handle(pkt, from);
      if (done()) return 0;
    }
    std::fprintf(stderr, "proto-peer: timed out (%d echo exchanges done)\n", exchanges_);
    return 1;
  }

 private:
  bool initiator() const { return !opt_.initiate.empty(); }
  bool done() const { return exchanges_ >= (initiator() ? opt_.count : opt_.echo_replies); }

  bool send_initiation() {
    dp::MessageInitiation msg{};
    auto err = handshaker_.create_initiation(msg, Clock::now());
    if (err != ctl::NoiseError::kOk) {
      std::fprintf(stderr, "proto-peer: create_initiation: %s\n", ctl::to_string(err).data());
      return false;
    }
    endpoint_ = *udppeer::parse_endpoint(opt_.initiate);
    send_raw(&msg, sizeof msg);
    std::printf("proto-peer: sent initiation (sender index %08x)\n", handshaker_.local_index());
    return true;
  }

  void handle(std::span<std::uint8_t> pkt, const sockaddr_in& from) {
    auto type = reinterpret_cast<const dp::MessageHeader*>(pkt.data())->message_type();
    if (type == dp::MessageType::kInitiation && pkt.size() == dp::kMessageInitiationSize)
      on_initiation(pkt, from);
    else if (type == dp::MessageType::kResponse && pkt.size() == dp::kMessageResponseSize)
      on_response(pkt, from);
    else if (type == dp::MessageType::kData && pkt.size() >= dp::kMessageDataMinSize)
      on_data(pkt, from);
    else
      std::printf("proto-peer: ignored a %zu-byte message of type %u\n", pkt.size(),
                  static_cast<unsigned>(type));
  }

  void on_initiation(std::span<std::uint8_t> pkt, const sockaddr_in& from) {
    auto now = Clock::now();
    auto consumed = handshaker_.consume_initiation(pkt, from, now);
    if (consumed.bad_mac) {
      std::printf("proto-peer: initiation with a bad mac1 dropped\n");
      return;
    }
    if (!consumed.ok()) {
      std::printf("proto-peer: initiation refused: %s\n", ctl::to_string(consumed.error).data());
      return;
    }
    dp::MessageResponse resp{};
    auto err = handshaker_.create_response(resp, now);
    if (err != ctl::NoiseError::kOk) {
      std::fprintf(stderr, "proto-peer: create_response: %s\n", ctl::to_string(err).data());
      return;
    }
    endpoint_ = from;
    send_raw(&resp, sizeof resp);
    install(now);
    std::printf("proto-peer: consumed initiation, sent response (session %08x <- %08x)\n",
                session_->keys.local_index, session_->keys.remote_index);
  }

  void on_response(std::span<std::uint8_t> pkt, const sockaddr_in& from) {
    auto now = Clock::now();
    auto consumed = handshaker_.consume_response(pkt, from, now);
    if (consumed.bad_mac) return;
    if (!consumed.ok()) {
      std::printf("proto-peer: response refused: %s\n", ctl::to_string(consumed.error).data());
      return;
    }
    endpoint_ = from;
    install(now);
    std::printf("proto-peer: consumed response (session %08x -> %08x)\n",
                session_->keys.local_index, session_->keys.remote_index);
    // The initiator speaks first (whitepaper 5.4.5): our first echo request
    // also confirms the session for the responder.
    send_ping();
  }

  void install(Clock::time_point now) {
    auto keys = handshaker_.begin_session(now);
    session_.emplace();
    session_->keys = std::move(*keys);
  }

  void on_data(std::span<std::uint8_t> pkt, const sockaddr_in& from) {
    using Open = udppeer::Session::Open;
    auto opened = session_ ? session_->open(pkt) : udppeer::Session::Opened{};
    const std::uint64_t counter = opened.counter;
    switch (opened.status) {
      case Open::kUnknownIndex:
        std::printf(
            "proto-peer: data for unknown index %08x dropped\n",
            reinterpret_cast<const dp::MessageDataHeader*>(pkt.data())->receiver_index.get());
        return;
      case Open::kNotAuthentic:
        std::printf("proto-peer: data failed authentication\n");
        return;
      case Open::kReplayed:
        std::printf("proto-peer: replayed counter %llu dropped\n",
                    static_cast<unsigned long long>(counter));
        return;
      case Open::kOk:
        break;
    }
    endpoint_ = from;  // roaming: the latest authenticated source
    const std::uint8_t* body = opened.plaintext.data();
    const std::size_t plain_len = opened.plaintext.size();
    if (plain_len == 0) {
      std::printf("proto-peer: keepalive (counter %llu)\n",
                  static_cast<unsigned long long>(counter));
      return;
    }
    if (plain_len < 28 || (body[0] >> 4) != 4) return;
    std::size_t ip_len = std::size_t(body[2]) << 8 | body[3];
    if (ip_len > plain_len || ip_len < 28 || body[9] != IPPROTO_ICMP) return;
    in_addr src, dst;
    std::memcpy(&src, body + 12, 4);
    std::memcpy(&dst, body + 16, 4);
    std::uint8_t icmp_type = body[20];
    std::uint16_t id = std::uint16_t(body[24] << 8 | body[25]);
    std::uint16_t seq = std::uint16_t(body[26] << 8 | body[27]);
    std::printf(
        "proto-peer: decrypted %zu B (inner packet %zu B, padding %zu): ICMP type %u seq %u\n",
        plain_len, ip_len, plain_len - ip_len, icmp_type, seq);
    if (icmp_type == 8 && dst.s_addr == inner_.s_addr) {
      send_data(make_echo(0, inner_, src, id, seq, body + 28, ip_len - 28));
      ++exchanges_;
    } else if (icmp_type == 0 && initiator() && id == kPingId) {
      ++exchanges_;
      if (!done()) send_ping();
    }
  }

  void send_ping() {
    in_addr dst;
    inet_pton(AF_INET, opt_.ping.c_str(), &dst);
    std::array<std::uint8_t, 56> payload;
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i);
    send_data(make_echo(8, inner_, dst, kPingId, static_cast<std::uint16_t>(exchanges_ + 1),
                        payload.data(), payload.size()));
  }

  // Encrypts an inner packet, padded to 16 (5.4.6), as a data message.
  void send_data(const std::vector<std::uint8_t>& inner) {
    const auto msg = session_->seal(inner, kMtu);
    send_raw(msg.data(), msg.size());
  }

  void send_raw(const void* data, std::size_t len) {
    if (sendto(fd_, data, len, 0, reinterpret_cast<const sockaddr*>(&endpoint_), sizeof endpoint_) <
        0)
      std::perror("proto-peer: sendto");
  }

  static constexpr std::uint16_t kPingId = 0x7767;  // "wg"

  const Options& opt_;
  udppeer::Handshaker handshaker_;
  std::optional<udppeer::Session> session_;
  sockaddr_in endpoint_{};
  in_addr inner_{};
  int fd_ = -1;
  int exchanges_ = 0;
  Clock::time_point deadline_;
};

}  // namespace

int main(int argc, char** argv) {
  auto opt = parse_args(argc, argv);
  if (!opt) {
    usage(stderr);
    return 2;
  }
  auto priv = udppeer::read_key_file(opt->private_key_file);
  auto peer = crypto::key_from_base64(opt->peer_public_key);
  if (!priv || !peer) {
    std::fprintf(stderr, "proto-peer: bad private key file or peer public key\n");
    return 2;
  }
  crypto::Secret<32> psk;
  if (!opt->psk_file.empty() && !udppeer::read_psk_file(opt->psk_file, psk)) {
    std::fprintf(stderr, "proto-peer: bad preshared key file %s\n", opt->psk_file.c_str());
    return 2;
  }
  ProtoPeer proto(*opt, udppeer::identity_from(*priv), *peer,
                  opt->psk_file.empty() ? nullptr : &psk);
  if (!proto.open_socket()) return 2;
  int rc = proto.run();
  std::printf("proto-peer: %s\n", rc == 0 ? "done" : "failed");
  return rc;
}
