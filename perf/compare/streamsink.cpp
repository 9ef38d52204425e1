// wghub-streamsink: the HQ host's end of the side-by-side lab benchmark
// (scripts/compare-lab, docs/perf.md). A UDP socket that counts the stream
// wghub-streamgen sent through a hub: recvmmsg in batches, the kernel's
// receive timestamp of every datagram (SO_TIMESTAMPNS), and the kernel's
// count of datagrams the socket buffer had no room for (SO_RXQ_OVFL), so the
// sink's own speed shows up instead of hiding in the figures.
//
// It checks each payload against perf/compare/stream_format.hpp: magic, stream id,
// sequence; counts unique, duplicate and reordered sequences; and rates
// packets per second over the stream window (kernel timestamp of the first
// to the last stream datagram), plus a per-second histogram.
//
// Stops on SIGINT/SIGTERM, after --idle seconds without a datagram once the
// stream started, or after --timeout. SIGUSR1 says the sender is done: from
// then on --idle seconds without a datagram end it even if none came (the
// queue is drained first). Prints "sink: listening ..." when
// ready, and one machine-readable line at the end:
//   sink: result received=N unique=U duplicates=D reordered=R foreign=F
//         socket_drops=O window_s=W pps=P gbps_inner=G ...
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "perf/common/tool_args.hpp"
#include "perf/compare/stream_format.hpp"

namespace {

using namespace wghub;

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_ending = 0;
void on_signal(int) {
  g_stop = 1;
}
void on_end(int) {
  g_ending = 1;
}

void usage(FILE* to) {
  std::fprintf(to,
               "usage: wghub-streamsink --listen IP:PORT [options]\n"
               "\n"
               "Counts wghub-streamgen's stream arriving on a UDP socket and prints its rate.\n"
               "\n"
               "  --listen IP:PORT   where to bind (required)\n"
               "  --stream-id N      count only this stream id (default: any)\n"
               "  --idle SECONDS     stop this long after the last datagram, once the stream\n"
               "                     started or SIGUSR1 said the sender is done (default 1;\n"
               "                     0 = only on SIGINT/SIGTERM or --timeout)\n"
               "  --timeout SECONDS  stop after this long in any case (default 600)\n"
               "  --rcvbuf-mb N      socket receive buffer (default 256; SO_RCVBUFFORCE as\n"
               "                     root)\n"
               "  --poll-us N        sleep N microseconds when the queue is empty (default\n"
               "                     1000); 0 = block in poll(2) instead, so every\n"
               "                     datagram that finds the queue empty wakes the sink\n"
               "  --per-second       print the per-second histogram\n"
               "  -h, --help         this text\n");
}

struct Options {
  std::string listen;
  std::optional<std::uint32_t> stream_id;
  double idle_s = 1;
  double timeout_s = 600;
  int rcvbuf_mb = 256;
  int poll_us = 1000;
  bool per_second = false;
};

std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  if (!tools::ToolArgs("streamsink", usage)
           .option("--listen", o.listen)
           .option("--stream-id", o.stream_id)
           .option("--idle", o.idle_s)
           .option("--timeout", o.timeout_s)
           .option("--rcvbuf-mb", o.rcvbuf_mb)
           .option("--poll-us", o.poll_us)
           .flag("--per-second", o.per_second)
           .parse(argc, argv))
    return std::nullopt;
  if (o.listen.empty() || o.idle_s < 0 || o.timeout_s <= 0 || o.rcvbuf_mb < 1 ||
      o.rcvbuf_mb > 2047 || o.poll_us < 0 || o.poll_us > 999999)
    return std::nullopt;
  return o;
}

double mono_now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Counts {
  std::uint64_t received = 0;  // stream datagrams read
  std::uint64_t unique = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t reordered = 0;  // sequence below the highest seen so far
  std::uint64_t foreign = 0;    // anything else on the port
  std::uint64_t inner_bytes = 0;
  std::uint32_t socket_drops = 0;  // SO_RXQ_OVFL: cumulative
  std::uint64_t max_seq = 0;
  bool any = false;
  std::int64_t first_ns = 0, last_ns = 0;  // kernel receive times (CLOCK_REALTIME)
  std::vector<std::uint64_t> per_second;
  std::vector<std::uint8_t> seen;  // bitmap of sequences
};

bool test_and_set(std::vector<std::uint8_t>& bits, std::uint64_t seq) {
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 33;  // 1 GiB of bitmap at most
  if (seq >= kLimit) return false;
  const std::size_t byte = static_cast<std::size_t>(seq / 8);
  if (byte >= bits.size()) bits.resize(std::max<std::size_t>(byte + 1, bits.size() * 2), 0);
  const std::uint8_t mask = static_cast<std::uint8_t>(1u << (seq % 8));
  const bool was = bits[byte] & mask;
  bits[byte] |= mask;
  return was;
}

}  // namespace

int main(int argc, char** argv) {
  auto opt = parse_args(argc, argv);
  if (!opt) {
    usage(stderr);
    return 2;
  }
  auto colon = opt->listen.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (colon == std::string::npos ||
      inet_pton(AF_INET, opt->listen.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
    std::fprintf(stderr, "sink: bad --listen %s\n", opt->listen.c_str());
    return 2;
  }
  sa.sin_port = htons(static_cast<std::uint16_t>(std::atoi(opt->listen.c_str() + colon + 1)));

  struct sigaction act {};
  act.sa_handler = on_signal;  // no SA_RESTART: poll returns EINTR
  sigaction(SIGINT, &act, nullptr);
  sigaction(SIGTERM, &act, nullptr);
  struct sigaction end_act {};
  end_act.sa_handler = on_end;
  sigaction(SIGUSR1, &end_act, nullptr);

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    std::perror("sink: socket");
    return 1;
  }
  int one = 1;
  int buf = opt->rcvbuf_mb << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0) {
    std::perror("sink: setsockopt");
    return 1;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    std::perror("sink: bind");
    return 1;
  }
  int got_buf = 0;
  socklen_t len = sizeof got_buf;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got_buf, &len);
  std::printf("sink: listening on %s (receive buffer %d KiB)\n", opt->listen.c_str(),
              got_buf / 1024);
  std::fflush(stdout);

  constexpr unsigned kBatch = 256;
  constexpr std::size_t kBufLen = 2048;
  constexpr std::size_t kCtlLen = CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(std::uint32_t));
  std::vector<std::uint8_t> data(kBatch * kBufLen);
  std::vector<std::uint8_t> ctl(kBatch * kCtlLen);
  std::array<iovec, kBatch> iov;
  std::array<mmsghdr, kBatch> msgs;

  Counts c;
  const double start = mono_now();
  double last_rx = start;
  bool ending = false;
  while (!g_stop) {
    const double now = mono_now();
    if (g_ending && !ending) {
      ending = true;
      last_rx = std::max(last_rx, now);
    }
    if (now - start >= opt->timeout_s) break;
    bool got = false;
    for (;;) {
      for (unsigned i = 0; i < kBatch; ++i) {
        iov[i] = {&data[i * kBufLen], kBufLen};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_control = &ctl[i * kCtlLen];
        msgs[i].msg_hdr.msg_controllen = kCtlLen;
      }
      const int n = recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      got = true;
      for (int i = 0; i < n; ++i) {
        std::int64_t ts_ns = 0;
        for (cmsghdr* cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr); cm;
             cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm)) {
          if (cm->cmsg_level != SOL_SOCKET) continue;
          if (cm->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts;
            std::memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            ts_ns = static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
          } else if (cm->cmsg_type == SO_RXQ_OVFL) {
            std::uint32_t drops;
            std::memcpy(&drops, CMSG_DATA(cm), sizeof drops);
            c.socket_drops = std::max(c.socket_drops, drops);
          }
        }
        const std::uint8_t* p = &data[i * kBufLen];
        const std::size_t plen = msgs[i].msg_len;
        if (plen < perf::kStreamHeaderLen || std::memcmp(p, perf::kStreamMagic, 4) != 0 ||
            (opt->stream_id && perf::get_be32(p + 4) != *opt->stream_id)) {
          ++c.foreign;
          continue;
        }
        const std::uint64_t seq = perf::get_be64(p + 8);
        ++c.received;
        c.inner_bytes += plen + perf::kInnerHeadersLen;
        if (test_and_set(c.seen, seq))
          ++c.duplicates;
        else
          ++c.unique;
        if (!c.any) {
          c.any = true;
          c.first_ns = ts_ns;
          c.max_seq = seq;
        } else if (seq < c.max_seq) {
          ++c.reordered;
        } else {
          c.max_seq = seq;
        }
        c.last_ns = std::max(c.last_ns, ts_ns);
        const std::int64_t sec = (ts_ns - c.first_ns) / 1000000000;
        if (sec >= 0 && sec < 100000) {
          if (c.per_second.size() <= static_cast<std::size_t>(sec))
            c.per_second.resize(static_cast<std::size_t>(sec) + 1, 0);
          ++c.per_second[static_cast<std::size_t>(sec)];
        }
      }
    }
    if (got) {
      last_rx = mono_now();
      continue;
    }
    // Idle only counts with an empty queue: a sink that was not scheduled
    // for a while still drains what waits for it.
    if ((c.any || ending) && opt->idle_s > 0 && mono_now() - last_rx >= opt->idle_s) break;
    // Sleep instead of blocking in poll: no reader waits on the socket, so
    // the receive path (on the hub's core) never has to wake one up, which
    // in a VM means an inter-processor interrupt per wakeup. The queue holds
    // what arrives meanwhile; kernel timestamps keep the rate exact.
    if (opt->poll_us > 0) {
      const timespec nap{0, static_cast<long>(opt->poll_us) * 1000};
      nanosleep(&nap, nullptr);
    } else {
      pollfd pfd{fd, POLLIN, 0};
      poll(&pfd, 1, 50);
    }
  }
  close(fd);

  const double window = static_cast<double>(c.last_ns - c.first_ns) * 1e-9;
  // Rate over the window between the first and the last datagram: N - 1
  // intervals. Zero when fewer than two datagrams arrived.
  const double pps =
      (c.received >= 2 && window > 0) ? static_cast<double>(c.received - 1) / window : 0;
  const double avg_inner =
      c.received ? static_cast<double>(c.inner_bytes) / static_cast<double>(c.received) : 0;
  const double gbps = pps * avg_inner * 8 / 1e9;
  if (opt->per_second && !c.per_second.empty()) {
    std::printf("sink: per second (from the first datagram):");
    for (auto n : c.per_second) std::printf(" %llu", static_cast<unsigned long long>(n));
    std::printf("\n");
  }
  if (c.socket_drops)
    std::printf(
        "sink: warning: the socket buffer overflowed %u times: the sink, not the hub,"
        " lost those\n",
        c.socket_drops);
  std::printf(
      "sink: result received=%llu unique=%llu duplicates=%llu reordered=%llu foreign=%llu "
      "socket_drops=%u window_s=%.6f pps=%.1f gbps_inner=%.4f max_seq=%llu\n",
      static_cast<unsigned long long>(c.received), static_cast<unsigned long long>(c.unique),
      static_cast<unsigned long long>(c.duplicates), static_cast<unsigned long long>(c.reordered),
      static_cast<unsigned long long>(c.foreign), c.socket_drops, window, pps, gbps,
      static_cast<unsigned long long>(c.max_seq));
  return 0;
}
