// wghub-streamgen: the generator of the side-by-side lab benchmark
// (scripts/compare-lab, docs/perf.md). One WireGuard site built on wghub's
// protocol core (Noise_IKpsk2, mac1/cookies, transport keypairs), talking to a
// hub over a plain UDP socket, with no DPDK and no tun device:
//
//   1. handshake as initiator with --hub (retried every second; a cookie
//      reply is consumed and the initiation re-sent with mac2);
//   2. confirmation: ICMP echo requests from --inner-src to the --inner-dst
//      host through the tunnel until an encrypted echo reply comes back. The
//      first data message confirms the responder's keypair (whitepaper
//      5.4.5), and the round trip proves the hub forwards to the HQ LAN and
//      has resolved the HQ host's and our NAT's link-layer addresses;
//   3. pre-encryption of the whole stream, before the measured window: --count
//      data messages, each an inner IPv4/UDP packet of --size bytes from
//      --inner-src to --inner-dst carrying the stream header of
//      perf/compare/stream_format.hpp (stream id, sequence 0..count-1), sealed with
//      the session's next counters (unique and increasing), padded as
//      WireGuard pads (5.4.6);
//   4. the measured window: the stored messages go out with sendmmsg in
//      batches of --batch, as fast as the socket takes them or paced at
//      --rate packets per second. Nothing is encrypted or allocated in it.
//
// Against two hubs with the same options the streams are the same (count,
// sizes, inner headers and payloads, pacing); only the session keys differ.
// Prints human lines and one machine-readable line:
//   streamgen: result sent=N size=S msg_bytes=M seconds=T pps=R gbps_inner=G ...
// Exit 0 when the stream was sent, 1 on a handshake/confirmation timeout or a
// socket error, 2 on a usage error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "control/noise.hpp"
#include "crypto/aead.hpp"
#include "crypto/base64.hpp"
#include "dataplane/messages.hpp"
#include "perf/common/tool_args.hpp"
#include "perf/common/udp_peer.hpp"
#include "perf/compare/stream_format.hpp"
#include "perf/sim/frames.hpp"

namespace {

using namespace wghub;
using ctl::Clock;
using Seconds = std::chrono::duration<double>;

void usage(FILE* to) {
  std::fprintf(
      to,
      "usage: wghub-streamgen --private-key FILE --hub-public-key BASE64 --hub IP:PORT\n"
      "                       --inner-src IP --inner-dst IP:PORT [options]\n"
      "\n"
      "Handshakes with a WireGuard hub as the peer owning --private-key, confirms\n"
      "the session with an echo through the tunnel, pre-encrypts --count data\n"
      "messages (inner IPv4/UDP --inner-src -> --inner-dst, --size bytes) and\n"
      "sends them with sendmmsg, measuring only the sending.\n"
      "\n"
      "  --private-key FILE       our private key (wg genkey format)\n"
      "  --private-key-base64 K   the same, given inline\n"
      "  --hub-public-key BASE64  the hub's public key\n"
      "  --preshared-key FILE     preshared key (wg genpsk format)\n"
      "  --hub IP:PORT            the hub's WireGuard endpoint\n"
      "  --bind IP:PORT           our UDP address (default 0.0.0.0:0)\n"
      "  --inner-src IP           inner source (an address the hub allows for us)\n"
      "  --inner-dst IP:PORT      inner destination (the HQ host's stream sink)\n"
      "  --size N                 inner IPv4 packet size, 64..1420 (default 64)\n"
      "  --count N                data messages in the stream (default 200000)\n"
      "  --rate PPS               pace at PPS packets/s; 0 = as fast as possible (default)\n"
      "  --batch N                messages per sendmmsg, 1..1024 (default 64)\n"
      "  --stream-id N            32-bit id written into every payload (default 1)\n"
      "  --sport N                inner UDP source port (default 40000)\n"
      "  --max-mb N               refuse a stream store larger than N MiB (default 2048)\n"
      "  --timeout SECONDS        handshake + confirmation deadline (default 20)\n"
      "  --watch-pid PID          also report the CPU time that PID's threads ran during\n"
      "                           the stream (and --drain-ms after it), from schedstat\n"
      "  --watch-cpus LIST        only its threads whose affinity is exactly LIST\n"
      "                           (as /proc shows Cpus_allowed_list, e.g. 1)\n"
      "  --drain-ms N             how long after the last send the watch goes on\n"
      "                           (default 100)\n"
      "  -h, --help               this text\n");
}

struct Options {
  std::string private_key_file, private_key_b64, hub_public_key, psk_file, hub, bind = "0.0.0.0:0";
  std::string inner_src, inner_dst;
  unsigned size = 64;
  std::uint64_t count = 200000;
  double rate = 0;
  unsigned batch = 64;
  std::uint32_t stream_id = 1;
  unsigned sport = 40000;
  double max_mb = 2048;
  double timeout_s = 20;
  int watch_pid = 0;
  std::string watch_cpus;
  int drain_ms = 100;
};

std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  if (!tools::ToolArgs("streamgen", usage)
           .option("--private-key", o.private_key_file)
           .option("--private-key-base64", o.private_key_b64)
           .option("--hub-public-key", o.hub_public_key)
           .option("--preshared-key", o.psk_file)
           .option("--hub", o.hub)
           .option("--bind", o.bind)
           .option("--inner-src", o.inner_src)
           .option("--inner-dst", o.inner_dst)
           .option("--size", o.size)
           .option("--count", o.count)
           .option("--rate", o.rate)
           .option("--batch", o.batch)
           .option("--stream-id", o.stream_id)
           .option("--sport", o.sport)
           .option("--max-mb", o.max_mb)
           .option("--timeout", o.timeout_s)
           .option("--watch-pid", o.watch_pid)
           .option("--watch-cpus", o.watch_cpus)
           .option("--drain-ms", o.drain_ms)
           .parse(argc, argv))
    return std::nullopt;
  const char* problem = nullptr;
  if (o.private_key_file.empty() == o.private_key_b64.empty())
    problem = "give exactly one of --private-key and --private-key-base64";
  else if (o.hub_public_key.empty() || o.hub.empty() || o.inner_src.empty() || o.inner_dst.empty())
    problem = "--hub-public-key, --hub, --inner-src and --inner-dst are required";
  else if (o.size < perf::kMinInnerSize || o.size > perf::kMaxInnerSize)
    problem = "--size must be 64..1420";
  else if (o.count < 1)
    problem = "--count must be at least 1";
  else if (o.rate < 0)
    problem = "--rate must be >= 0";
  else if (o.batch < 1 || o.batch > 1024)
    problem = "--batch must be 1..1024";
  else if (o.sport < 1 || o.sport > 65535)
    problem = "--sport must be 1..65535";
  else if (o.timeout_s <= 0)
    problem = "--timeout must be > 0";
  else if (o.watch_pid < 0 || o.drain_ms < 0 || o.drain_ms > 60000)
    problem = "--watch-pid must be a PID and --drain-ms 0..60000";
  if (problem) {
    std::fprintf(stderr, "streamgen: %s\n", problem);
    return std::nullopt;
  }
  return o;
}

std::optional<std::uint32_t> parse_ip(const std::string& text) {  // host order
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

double seconds_since(Clock::time_point t) {
  return Seconds(Clock::now() - t).count();
}

// Nanoseconds on CPU (schedstat's first field) of the threads of `pid` whose
// CPU affinity reads exactly `cpus` (all threads when empty); -1 when the
// process is gone.
long long cpu_time_ns(int pid, const std::string& cpus) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return -1;
  long long total = 0;
  for (const auto& task : it) {
    if (!cpus.empty()) {
      std::ifstream status(task.path() / "status");
      std::string line, allowed;
      while (std::getline(status, line))
        if (line.rfind("Cpus_allowed_list:", 0) == 0) {
          allowed = line.substr(line.find_first_not_of(" \t", 18));
          break;
        }
      if (allowed != cpus) continue;
    }
    std::ifstream stat(task.path() / "schedstat");
    long long ns = 0;
    if (stat >> ns) total += ns;
  }
  return total;
}

class StreamGen {
 public:
  StreamGen(const Options& o, ctl::LocalIdentity local, const std::array<std::uint8_t, 32>& hub,
            const crypto::Secret<32>* psk)
      : opt_(o), handshaker_(std::move(local), hub, psk) {}

  bool open_socket() {
    auto bind_to = udppeer::parse_endpoint(opt_.bind);
    auto hub = udppeer::parse_endpoint(opt_.hub);
    auto src = parse_ip(opt_.inner_src);
    auto dst = udppeer::parse_endpoint(opt_.inner_dst);
    if (!bind_to || !hub || !src || !dst) {
      std::fprintf(stderr, "streamgen: bad --bind, --hub, --inner-src or --inner-dst\n");
      return false;
    }
    inner_src_ = *src;
    inner_dst_ = ntohl(dst->sin_addr.s_addr);
    inner_dport_ = ntohs(dst->sin_port);
    hub_ = *hub;
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd_ < 0) {
      std::perror("streamgen: socket");
      return false;
    }
    // A deep send buffer, so sendmmsg is never the one waiting (root may
    // exceed wmem_max with the FORCE variant; others get what they get).
    int buf = 64 << 20;
    if (setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf) != 0)
      setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&*bind_to), sizeof *bind_to) != 0 ||
        connect(fd_, reinterpret_cast<sockaddr*>(&hub_), sizeof hub_) != 0) {
      std::perror("streamgen: bind/connect");
      return false;
    }
    return true;
  }

  bool handshake() {
    const auto start = Clock::now();
    const auto deadline = start + to_duration(opt_.timeout_s);
    int attempts = 0;
    while (Clock::now() < deadline) {
      if (!send_initiation()) return false;
      ++attempts;
      const auto retry_at = std::min(deadline, Clock::now() + std::chrono::seconds(1));
      bool resend = false;
      while (!resend && Clock::now() < retry_at) {
        auto msg = udppeer::receive(fd_, retry_at);
        if (msg.empty()) continue;
        auto type = reinterpret_cast<const dp::MessageHeader*>(msg.data())->message_type();
        if (type == dp::MessageType::kCookieReply && msg.size() == dp::kMessageCookieReplySize) {
          auto& reply = *reinterpret_cast<const dp::MessageCookieReply*>(msg.data());
          if (handshaker_.consume_cookie_reply(reply, Clock::now())) {
            std::printf("streamgen: hub under load: cookie reply; re-sending with mac2\n");
            resend = true;
          }
        } else if (type == dp::MessageType::kResponse && msg.size() == dp::kMessageResponseSize) {
          auto consumed = handshaker_.consume_response(msg, hub_, Clock::now());
          if (consumed.bad_mac) continue;
          if (!consumed.ok()) {
            std::printf("streamgen: response refused: %s\n", ctl::to_string(consumed.error).data());
            continue;
          }
          auto keys = handshaker_.begin_session(Clock::now());
          if (!keys) return false;
          session_.keys = std::move(*keys);
          std::printf(
              "streamgen: handshake complete after %.1f ms, %d initiation(s) (session %08x -> "
              "%08x)\n",
              seconds_since(start) * 1e3, attempts, session_.keys.local_index,
              session_.keys.remote_index);
          return true;
        }
      }
    }
    std::fprintf(stderr, "streamgen: no handshake response from %s within %.0f s (%d tries)\n",
                 opt_.hub.c_str(), opt_.timeout_s, attempts);
    return false;
  }

  // Echo requests through the tunnel until one is answered: confirms the
  // session at the hub and warms every path the stream will take.
  bool confirm() {
    const auto start = Clock::now();
    const auto deadline = start + to_duration(opt_.timeout_s);
    int requests = 0;
    while (Clock::now() < deadline) {
      send_echo_request(static_cast<std::uint16_t>(++requests));
      const auto next = std::min(deadline, Clock::now() + std::chrono::milliseconds(200));
      while (Clock::now() < next) {
        auto msg = udppeer::receive(fd_, next);
        if (msg.size() < dp::kMessageDataMinSize) continue;
        if (is_echo_reply(msg)) {
          std::printf(
              "streamgen: session confirmed: echo reply from %s after %.1f ms, %d "
              "request(s)\n",
              perfsim::format_ip(inner_dst_).c_str(), seconds_since(start) * 1e3, requests);
          return true;
        }
      }
    }
    std::fprintf(stderr,
                 "streamgen: no echo reply from %s through the hub within %.0f s (%d requests):"
                 " the hub does not forward to the HQ LAN\n",
                 perfsim::format_ip(inner_dst_).c_str(), opt_.timeout_s, requests);
    return false;
  }

  // Seals the whole stream into one contiguous store.
  bool build_stream() {
    const std::size_t padded = dp::padded_length(opt_.size, perf::kMaxInnerSize);
    msg_len_ = dp::kMessageDataHeaderSize + padded + crypto::kAeadTagLen;
    const double mb = static_cast<double>(msg_len_) * static_cast<double>(opt_.count) / (1 << 20);
    if (mb > opt_.max_mb) {
      std::fprintf(stderr, "streamgen: the stream needs %.0f MiB, more than --max-mb %.0f\n", mb,
                   opt_.max_mb);
      return false;
    }
    const auto start = Clock::now();
    store_.assign(msg_len_ * opt_.count, 0);

    // The inner packet template; per packet only the IP id, its checksum and
    // the sequence number change.
    perfsim::Bytes payload(opt_.size - perf::kInnerHeadersLen, 0);
    for (std::size_t i = perf::kStreamHeaderLen; i < payload.size(); ++i)
      payload[i] = static_cast<std::uint8_t>(i * 7);
    std::memcpy(payload.data(), perf::kStreamMagic, 4);
    perf::put_be32(&payload[4], opt_.stream_id);
    const perfsim::Bytes tmpl = perfsim::udp_packet(
        inner_src_, inner_dst_, static_cast<std::uint16_t>(opt_.sport), inner_dport_, payload);

    auto backend = crypto::make_best_backend();
    constexpr std::size_t kBurst = 32;
    std::array<crypto::AeadOp, kBurst> ops;
    first_counter_ = session_.send_counter;
    for (std::uint64_t base = 0; base < opt_.count; base += kBurst) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(kBurst, opt_.count - base));
      for (std::size_t j = 0; j < n; ++j) {
        const std::uint64_t seq = base + j;
        std::uint8_t* m = &store_[seq * msg_len_];
        auto& hdr = *reinterpret_cast<dp::MessageDataHeader*>(m);
        hdr.header.set_type(dp::MessageType::kData);
        hdr.receiver_index.set(session_.keys.remote_index);
        const std::uint64_t counter = session_.send_counter++;
        hdr.counter.set(counter);
        std::uint8_t* inner = m + dp::kMessageDataHeaderSize;
        std::memcpy(inner, tmpl.data(), tmpl.size());
        inner[4] = static_cast<std::uint8_t>(seq >> 8);  // IP id
        inner[5] = static_cast<std::uint8_t>(seq);
        inner[10] = inner[11] = 0;
        const std::uint16_t csum = perfsim::inet_checksum(inner, 20);
        inner[10] = static_cast<std::uint8_t>(csum >> 8);
        inner[11] = static_cast<std::uint8_t>(csum);
        perf::put_be64(inner + perf::kInnerHeadersLen + 8, seq);
        ops[j] = crypto::AeadOp{};
        ops[j].key = session_.keys.sending_key.data();
        ops[j].counter = counter;
        ops[j].data = inner;
        ops[j].len = static_cast<std::uint32_t>(padded);
        ops[j].tag = inner + padded;
      }
      backend->seal_burst(std::span(ops.data(), n));
    }
    std::printf(
        "streamgen: pre-encrypted %llu data messages of %zu B (inner %u B, padded %zu; counters "
        "%llu..%llu) in %.2f s with %s, %.0f MiB\n",
        static_cast<unsigned long long>(opt_.count), msg_len_, opt_.size, padded,
        static_cast<unsigned long long>(first_counter_),
        static_cast<unsigned long long>(session_.send_counter - 1), seconds_since(start),
        std::string(backend->name()).c_str(), mb);
    return true;
  }

  // The measured window: the stored messages, in order, by sendmmsg.
  bool send_stream() {
    std::vector<iovec> iov(opt_.batch);
    std::vector<mmsghdr> msgs(opt_.batch);
    std::uint64_t sent = 0, retries = 0, waits = 0;
    int last_errno = 0;
    std::fflush(stdout);
    const long long cpu_before = opt_.watch_pid ? cpu_time_ns(opt_.watch_pid, opt_.watch_cpus) : 0;
    const auto start = Clock::now();
    while (sent < opt_.count) {
      std::uint64_t n = std::min<std::uint64_t>(opt_.batch, opt_.count - sent);
      if (opt_.rate > 0) {
        // Token bucket without a burst allowance beyond one batch: the
        // schedule is sent = rate * elapsed.
        const double elapsed = seconds_since(start);
        const double due = opt_.rate * elapsed - static_cast<double>(sent);
        if (due < 1) {
          const double wait = (1 - due) / opt_.rate;
          ++waits;
          if (wait > 100e-6) std::this_thread::sleep_for(to_duration(wait - 50e-6));
          continue;
        }
        n = std::min<std::uint64_t>(n, static_cast<std::uint64_t>(due));
      }
      for (std::uint64_t j = 0; j < n; ++j) {
        iov[j] = {&store_[(sent + j) * msg_len_], msg_len_};
        msgs[j] = {};
        msgs[j].msg_hdr.msg_iov = &iov[j];
        msgs[j].msg_hdr.msg_iovlen = 1;
      }
      const int r = sendmmsg(fd_, msgs.data(), static_cast<unsigned>(n), 0);
      if (r < 0) {
        // ENOBUFS: a full device queue; ECONNREFUSED: an ICMP error reported
        // on the connected socket. Neither stops the stream: try again.
        if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED) {
          ++retries;
          last_errno = errno;
          continue;
        }
        std::perror("streamgen: sendmmsg");
        return false;
      }
      sent += static_cast<std::uint64_t>(r);
    }
    const double secs = seconds_since(start);
    // The hub's CPU over the stream and its drain: packets still queued at
    // the hub when the last one left here are forwarded in that tail.
    double watch_cpu_ms = -1, watch_s = 0;
    if (opt_.watch_pid) {
      std::this_thread::sleep_for(std::chrono::milliseconds(opt_.drain_ms));
      watch_s = seconds_since(start);
      const long long cpu_after = cpu_time_ns(opt_.watch_pid, opt_.watch_cpus);
      if (cpu_before >= 0 && cpu_after >= 0)
        watch_cpu_ms = static_cast<double>(cpu_after - cpu_before) / 1e6;
    }
    const double pps = static_cast<double>(sent) / secs;
    const double gbps_inner = pps * opt_.size * 8 / 1e9;
    const double gbps_outer = pps * static_cast<double>(msg_len_ + 28) * 8 / 1e9;
    std::printf(
        "streamgen: sent %llu packets in %.3f s = %.0f pps, %.3f Gbit/s inner, %.3f Gbit/s outer "
        "IP (%s, batches of %u, %llu retries%s%s)\n",
        static_cast<unsigned long long>(sent), secs, pps, gbps_inner, gbps_outer,
        opt_.rate > 0 ? "paced" : "as fast as possible", opt_.batch,
        static_cast<unsigned long long>(retries), last_errno ? ", last: " : "",
        last_errno ? std::strerror(last_errno) : "");
    std::printf(
        "streamgen: result sent=%llu size=%u msg_bytes=%zu seconds=%.6f pps=%.1f gbps_inner=%.4f "
        "rate=%.0f retries=%llu waits=%llu stream=%u watch_cpu_ms=%.1f watch_s=%.4f\n",
        static_cast<unsigned long long>(sent), opt_.size, msg_len_, secs, pps, gbps_inner,
        opt_.rate, static_cast<unsigned long long>(retries), static_cast<unsigned long long>(waits),
        opt_.stream_id, watch_cpu_ms, watch_s);
    if (opt_.watch_pid)
      std::printf(
          "streamgen: pid %d (threads on CPUs %s) ran %.1f ms of the %.1f ms from the first"
          " send to %d ms after the last\n",
          opt_.watch_pid, opt_.watch_cpus.empty() ? "any" : opt_.watch_cpus.c_str(), watch_cpu_ms,
          watch_s * 1e3, opt_.drain_ms);
    return true;
  }

 private:
  static Clock::duration to_duration(double s) {
    return std::chrono::duration_cast<Clock::duration>(Seconds(s));
  }

  bool send_initiation() {
    dp::MessageInitiation msg{};
    auto err = handshaker_.create_initiation(msg, Clock::now());
    if (err != ctl::NoiseError::kOk) {
      std::fprintf(stderr, "streamgen: create_initiation: %s\n", ctl::to_string(err).data());
      return false;
    }
    send_raw(&msg, sizeof msg);
    return true;
  }

  void send_echo_request(std::uint16_t seq) {
    perfsim::Bytes icmp(8 + 56, 0);
    icmp[0] = 8;  // echo request
    icmp[4] = kPingId >> 8;
    icmp[5] = kPingId & 0xff;
    icmp[6] = static_cast<std::uint8_t>(seq >> 8);
    icmp[7] = static_cast<std::uint8_t>(seq);
    for (std::size_t i = 8; i < icmp.size(); ++i) icmp[i] = static_cast<std::uint8_t>(i);
    const std::uint16_t csum = perfsim::inet_checksum(icmp.data(), icmp.size());
    icmp[2] = static_cast<std::uint8_t>(csum >> 8);
    icmp[3] = static_cast<std::uint8_t>(csum);
    send_data(perfsim::ipv4_packet(inner_src_, inner_dst_, perfsim::kProtoIcmp, icmp));
  }

  // Opens a data message for us; true if it is an echo reply to our requests.
  bool is_echo_reply(std::vector<std::uint8_t>& msg) {
    auto& hdr = *reinterpret_cast<const dp::MessageDataHeader*>(msg.data());
    if (hdr.header.message_type() != dp::MessageType::kData) return false;
    const auto opened = session_.open(msg);
    if (opened.status != udppeer::Session::Open::kOk) return false;
    const std::uint8_t* body = opened.plaintext.data();
    const std::size_t plain = opened.plaintext.size();
    if (plain < 28 || (body[0] >> 4) != 4 || body[9] != perfsim::kProtoIcmp) return false;
    const std::size_t ihl = std::size_t(body[0] & 0x0f) * 4;
    if (plain < ihl + 8) return false;
    const std::uint8_t* icmp = body + ihl;
    return icmp[0] == 0 && (std::uint16_t(icmp[4] << 8 | icmp[5])) == kPingId;
  }

  void send_data(const perfsim::Bytes& inner) {
    const auto msg = session_.seal(inner, perf::kMaxInnerSize);
    send_raw(msg.data(), msg.size());
  }

  void send_raw(const void* data, std::size_t len) {
    if (send(fd_, data, len, 0) < 0 && errno != ECONNREFUSED) std::perror("streamgen: send");
  }

  static constexpr std::uint16_t kPingId = 0x7773;  // "ws"

  const Options& opt_;
  udppeer::Handshaker handshaker_;
  udppeer::Session session_;
  std::uint64_t first_counter_ = 0;
  sockaddr_in hub_{};
  std::uint32_t inner_src_ = 0, inner_dst_ = 0;
  std::uint16_t inner_dport_ = 0;
  int fd_ = -1;
  std::vector<std::uint8_t> store_;
  std::size_t msg_len_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  auto opt = parse_args(argc, argv);
  if (!opt) {
    usage(stderr);
    return 2;
  }
  auto priv = opt->private_key_b64.empty() ? udppeer::read_key_file(opt->private_key_file)
                                           : crypto::key_from_base64(opt->private_key_b64);
  auto hub = crypto::key_from_base64(opt->hub_public_key);
  if (!priv || !hub) {
    std::fprintf(stderr, "streamgen: bad private key or --hub-public-key\n");
    return 2;
  }
  crypto::Secret<32> psk;
  if (!opt->psk_file.empty() && !udppeer::read_psk_file(opt->psk_file, psk)) {
    std::fprintf(stderr, "streamgen: bad preshared key file %s\n", opt->psk_file.c_str());
    return 2;
  }
  StreamGen gen(*opt, udppeer::identity_from(*priv), *hub, opt->psk_file.empty() ? nullptr : &psk);
  if (!gen.open_socket()) return 2;
  if (!gen.handshake() || !gen.confirm() || !gen.build_stream() || !gen.send_stream()) return 1;
  return 0;
}
