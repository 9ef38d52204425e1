// See wgperf_options.hpp.
#include "perf/wgperf_options.hpp"

#include <cstdlib>
#include <cstring>

namespace wghub::perf {

namespace {

bool parse_unsigned(std::string_view text, unsigned lo, unsigned hi, unsigned& out) {
  if (text.empty()) return false;
  const std::string s(text);
  char* end = nullptr;
  const unsigned long v = std::strtoul(s.c_str(), &end, 10);
  if (*end != '\0' || v < lo || v > hi) return false;
  out = static_cast<unsigned>(v);
  return true;
}

std::vector<std::string_view> split_commas(std::string_view text) {
  std::vector<std::string_view> parts;
  while (true) {
    const auto comma = text.find(',');
    parts.push_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text = text.substr(comma + 1);
  }
  return parts;
}

bool parse_engine(std::string_view text, Engine& out) {
  for (Engine e :
       {Engine::kIo, Engine::kDecap, Engine::kEncap, Engine::kHubFwd, Engine::kHandshake}) {
    if (text == to_string(e)) {
      out = e;
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view to_string(Engine e) {
  switch (e) {
    case Engine::kIo:
      return "io";
    case Engine::kDecap:
      return "decap";
    case Engine::kEncap:
      return "encap";
    case Engine::kHubFwd:
      return "hubfwd";
    case Engine::kHandshake:
      return "handshake";
  }
  return "?";
}

std::string size_name(unsigned size) {
  return size == kImix ? "imix" : std::to_string(size);
}

void print_help(std::FILE* out) {
  std::fputs(
      "usage: wgperf [options]\n"
      "\n"
      "testpmd-style throughput runs of the real wghub data plane (control::Hub, its\n"
      "workers, FIB, keypair table, replay windows, IPsec-MB burst crypto) on\n"
      "in-memory ports (rte_eth_from_rings) against M simulated WireGuard sites that\n"
      "completed real Noise_IKpsk2 handshakes with the hub before the run.\n"
      "Speed is printed, never asserted (DESIGN.md); --check asserts only that the\n"
      "counters add up.\n"
      "\n"
      "engines (--engine, a comma-separated list):\n"
      "  io         baseline without crypto: plain IPv4 frames from the HQ host to a\n"
      "             second LAN host, hairpinned LAN rx -> classify -> FIB -> LAN tx.\n"
      "             Shows the I/O and forwarding ceiling of the worker.\n"
      "  decap      WAN -> LAN: data messages from the M sites (pre-encrypted, unique\n"
      "             increasing counters, round-robin over the sites) -> decrypt burst\n"
      "             -> replay window -> inner-source check -> FIB -> LAN tx to HQ.\n"
      "  encap      LAN -> WAN: plain IPv4 frames from HQ to addresses inside the\n"
      "             sites' AllowedIPs -> FIB -> encrypt burst -> WAN tx.\n"
      "  hubfwd     site -> site through the hub: site i sends to site i+1's\n"
      "             network; decrypt + re-encrypt on one worker (needs --peers >= 2).\n"
      "  handshake  initiation flood through the control thread (step mode): first\n"
      "             paced (the control ring stays under 1/8: every initiation gets a\n"
      "             response: handshakes/s), then a burst of 2048 at once (under\n"
      "             load: the control thread answers with cookie replies), then\n"
      "             --duration x 65536 more in rounds of 256, which the worker\n"
      "             answers itself (cookie replies/s per worker). --size is unused.\n"
      "\n"
      "options:\n"
      "  --engine LIST    engines to run, e.g. decap,encap,hubfwd (default decap)\n"
      "  --size LIST      inner IPv4 packet sizes in bytes, 64..1420, or 'imix'\n"
      "                   (7:4:1 of 64/576/1420), e.g. 64,1420,imix (default 1420)\n"
      "  --peers N        simulated sites, 1..20000 (default 10); each has its own\n"
      "                   session, /24 of AllowedIPs and outer address:port\n"
      "  --lcores N       worker lcores (default 1); step mode needs 1, lcore mode\n"
      "                   runs workers on lcores 1..N (the main lcore 0 generates)\n"
      "  --handshake-threads N\n"
      "                   dataplane.handshake_threads, 0..64 (default 0: the control\n"
      "                   thread runs the handshakes); the handshake engine then\n"
      "                   reports wall-clock handshakes/s over every CPU\n"
      "  --duration S     seconds measured per point and repetition (default 1)\n"
      "  --burst N        worker rx burst (dataplane.burst_size), 1..512 (default 32)\n"
      "  --mode step|lcore|drain\n"
      "                   step (default): the worker is stepped on the main lcore\n"
      "                   between generator fills; only rte_rdtsc around its\n"
      "                   poll_once counts, so generation and encryption by the\n"
      "                   sites cost nothing. lcore: workers run on their own lcores\n"
      "                   (launch_workers, busy polling) while the main lcore feeds\n"
      "                   and drains the rings; figures are wall-clock and can be\n"
      "                   generator-bound (reported as gen-limited).\n"
      "                   drain: every worker's rx ring is filled first (32768\n"
      "                   frames each), then the N workers are launched and empty\n"
      "                   them while the main lcore sleeps; wall time from launch to\n"
      "                   the last empty ring. Measures N workers side by side with no\n"
      "                   generator competing for a core, so --lcores 2 runs on a\n"
      "                   2-core machine: lcore l is placed on CPU l mod CPUs (worker 2\n"
      "                   shares CPU 0 with the sleeping main lcore). For scaling,\n"
      "                   compare --lcores 1 and 2 in the same mode.\n"
      "  --repeat N       runs per point; the median (by Mpps) is printed (default 1)\n"
      "  --fill N         step mode: frames the generator writes into the rx ring\n"
      "                   before the worker is stepped until it is empty (default 256,\n"
      "                   the mempool cache: the frames and their mbufs sit in L2, as\n"
      "                   in a steady-state DPDK loop; 4096 makes them cycle through\n"
      "                   the whole pool and miss the caches: see docs/perf.md)\n"
      "  --store-mb N     memory for pre-encrypted frames per stream (default 64);\n"
      "                   when a stream has used every frame the sites re-encrypt it\n"
      "                   with fresh counters (outside the measured cycles in step mode)\n"
      "  --check          exit 1 unless every point forwarded packets and its\n"
      "                   counters add up with no drops (the smoke test)\n"
      "  --csv FILE       append one CSV row per point (header when the file is new)\n"
      "  --verbose        show the hub's own log and audit lines (hidden by default)\n"
      "  --help           this text\n"
      "\n"
      "figures per point (and per lcore in lcore mode):\n"
      "  Mpps             packets forwarded per second of worker time (step) or wall\n"
      "                   time (lcore)\n"
      "  Gb/s in          inner IPv4 packet bits per second (what the tunnel carries)\n"
      "  Gb/s wire        bits of the outer Ethernet frames on the encrypted side\n"
      "                   (WAN rx for decap/hubfwd, WAN tx for encap; LAN for io);\n"
      "                   no FCS, preamble or gap\n"
      "  cyc/pkt          worker TSC cycles per received packet\n"
      "  raw Mpps         IPsec-MB ChaCha20-Poly1305 alone on the same core in the\n"
      "                   same run: bursts of 32, one key per packet, the same padded\n"
      "                   lengths (open for decap, seal for encap, open+seal for hubfwd)\n"
      "  ratio            Mpps / raw Mpps: the share of bare AEAD speed the whole\n"
      "                   data plane keeps\n"
      "  drops            the worker's drop counters by reason (none expected)\n"
      "\n"
      "not measured: mbuf allocation on rx and freeing after tx (the ring PMD has\n"
      "neither; wgperf allocates and frees outside the worker's cycles), and NIC DMA:\n"
      "frames are written by the generator shortly before the worker reads them.\n",
      out);
}

bool parse_options(int argc, char** argv, Options& o, bool& exit_now) {
  exit_now = false;
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "wgperf: %s (see --help)\n", message.c_str());
    return false;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      print_help(stdout);
      exit_now = true;
      return true;
    }
    if (arg == "--check") {
      o.check = true;
      continue;
    }
    if (arg == "--verbose") {
      o.verbose = true;
      continue;
    }
    if (i + 1 >= argc) return fail("missing value after " + std::string(arg));
    const std::string_view v = argv[++i];
    if (arg == "--engine") {
      o.engines.clear();
      for (auto part : split_commas(v)) {
        Engine e;
        if (!parse_engine(part, e))
          return fail("unknown engine '" + std::string(part) +
                      "' (io, decap, encap, hubfwd, handshake)");
        o.engines.push_back(e);
      }
    } else if (arg == "--size") {
      o.sizes.clear();
      for (auto part : split_commas(v)) {
        unsigned s = 0;
        if (part == "imix") {
          s = kImix;
        } else if (!parse_unsigned(part, 64, 1420, s)) {
          return fail("bad size '" + std::string(part) + "' (64..1420 or imix)");
        }
        o.sizes.push_back(s);
      }
    } else if (arg == "--peers") {
      if (!parse_unsigned(v, 1, 20000, o.peers)) return fail("--peers wants 1..20000");
    } else if (arg == "--lcores") {
      if (!parse_unsigned(v, 1, 64, o.lcores)) return fail("--lcores wants 1..64");
    } else if (arg == "--handshake-threads") {
      if (!parse_unsigned(v, 0, 64, o.handshake_threads))
        return fail("--handshake-threads wants 0..64");
    } else if (arg == "--duration") {
      const std::string s(v);
      char* end = nullptr;
      o.duration = std::strtod(s.c_str(), &end);
      if (*end != '\0' || !(o.duration > 0 && o.duration <= 600))
        return fail("--duration wants seconds in (0, 600]");
    } else if (arg == "--burst") {
      if (!parse_unsigned(v, 1, 512, o.burst)) return fail("--burst wants 1..512");
    } else if (arg == "--mode") {
      if (v == "step") {
        o.mode = Mode::kStep;
      } else if (v == "lcore") {
        o.mode = Mode::kLcore;
      } else if (v == "drain") {
        o.mode = Mode::kDrain;
      } else {
        return fail("--mode wants step, lcore or drain");
      }
    } else if (arg == "--repeat") {
      if (!parse_unsigned(v, 1, 100, o.repeat)) return fail("--repeat wants 1..100");
    } else if (arg == "--fill") {
      if (!parse_unsigned(v, 1, 4096, o.fill)) return fail("--fill wants 1..4096");
    } else if (arg == "--store-mb") {
      if (!parse_unsigned(v, 1, 4096, o.store_mb)) return fail("--store-mb wants 1..4096");
    } else if (arg == "--csv") {
      o.csv = std::string(v);
    } else {
      return fail("unknown argument '" + std::string(arg) + "'");
    }
  }
  if (o.mode == Mode::kStep && o.lcores != 1)
    return fail("step mode measures one worker: use --lcores 1 or --mode lcore|drain");
  if (o.mode == Mode::kDrain && o.lcores > 8) return fail("drain mode: --lcores 1..8");
  for (Engine e : o.engines)
    if (e == Engine::kHubFwd && o.peers < 2) return fail("hubfwd needs --peers >= 2");
  return true;
}

}  // namespace wghub::perf
