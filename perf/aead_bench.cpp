// wghub-aead-bench: ChaCha20-Poly1305 seal and open throughput of each AEAD
// backend (libsodium, and IPsec-MB for every arch this CPU runs) on bursts
// of equal-sized packets, one core. Every figure of one table comes from the
// same run, so the IPsec-MB/libsodium ratios compare like with like. This is
// a benchmark that prints numbers; nothing here passes or fails on speed.
#include <intel-ipsec-mb.h>
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/aead.hpp"
#include "perf/cpu_model.hpp"

namespace {

using wghub::crypto::AeadBackend;
using wghub::crypto::AeadOp;
using wghub::crypto::kAeadTagLen;
using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<std::size_t> sizes = {64, 128, 256, 512, 1024, 1420};
  double seconds = 0.2;
  std::size_t burst = 32;
};

void usage(std::FILE* out) {
  std::fputs(
      "usage: wghub-aead-bench [--sizes 64,128,...] [--seconds S] [--burst N] [--help]\n"
      "  Measures ChaCha20-Poly1305 seal and open throughput per backend\n"
      "  (libsodium; IPsec-MB for each arch this CPU supports) on one core.\n"
      "  --sizes    payload sizes in bytes (default 64,128,256,512,1024,1420)\n"
      "  --seconds  approximate time per measured point (default 0.2)\n"
      "  --burst    packets per burst call (default 32)\n"
      "  Gbit/s counts payload bytes only (not the 16-byte tag).\n",
      out);
}

bool parse_size(std::string_view text, std::size_t& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  const std::string s(text);
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (*end != '\0' || v > 65535) return false;
  out = static_cast<std::size_t>(v);
  return true;
}

bool parse_args(int argc, char** argv, Options& opt) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      std::exit(0);
    } else if (arg == "--sizes") {
      const char* v = value();
      if (v == nullptr) return false;
      opt.sizes.clear();
      std::string_view rest = v;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::size_t size = 0;
        if (!parse_size(rest.substr(0, comma), size)) {
          std::fprintf(stderr, "wghub-aead-bench: bad size in --sizes '%s' (0..65535)\n", v);
          return false;
        }
        opt.sizes.push_back(size);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
      if (opt.sizes.empty()) return false;
    } else if (arg == "--seconds") {
      const char* v = value();
      char* end = nullptr;
      if (v == nullptr || (opt.seconds = std::strtod(v, &end), *end != '\0') ||
          !(opt.seconds > 0 && opt.seconds <= 60)) {
        std::fprintf(stderr, "wghub-aead-bench: --seconds wants a number in (0, 60]\n");
        return false;
      }
    } else if (arg == "--burst") {
      const char* v = value();
      if (v == nullptr || !parse_size(v, opt.burst) || opt.burst == 0 || opt.burst > 1024) {
        std::fprintf(stderr, "wghub-aead-bench: --burst wants 1..1024\n");
        return false;
      }
    } else {
      std::fprintf(stderr, "wghub-aead-bench: unknown argument '%s'\n", argv[i]);
      return false;
    }
  }
  return true;
}

// A burst of packets of one size, each with its own key (many peers), AD-less
// like WireGuard data packets, counters increasing.
struct Burst {
  Burst(std::size_t n, std::size_t size) : data(n * size), tags(n * kAeadTagLen), keys(n * 32) {
    randombytes_buf(data.data(), data.size());
    randombytes_buf(keys.data(), keys.size());
    for (std::size_t i = 0; i < n; ++i) {
      AeadOp op;
      op.key = &keys[i * 32];
      op.counter = i;
      op.data = size != 0 ? &data[i * size] : data.data();
      op.len = static_cast<std::uint32_t>(size);
      op.tag = &tags[i * kAeadTagLen];
      ops.push_back(op);
    }
  }
  std::vector<std::uint8_t> data, tags, keys;
  std::vector<AeadOp> ops;
};

struct Result {
  double mpps = 0;
  double gbps = 0;
};

Result to_result(std::size_t packets, std::size_t size, double secs) {
  const double pps = static_cast<double>(packets) / secs;
  return {pps / 1e6, pps * static_cast<double>(size) * 8 / 1e9};
}

// Runs seal bursts: a short calibration fixes the number of bursts that
// takes about `seconds`, then exactly that many are timed.
Result bench_seal(AeadBackend& be, std::size_t size, const Options& opt) {
  Burst b(opt.burst, size);
  std::size_t calib = 0;
  const auto c0 = Clock::now();
  while (Clock::now() - c0 < std::chrono::milliseconds(20)) {
    be.seal_burst(b.ops);
    ++calib;
  }
  const double per_burst = std::chrono::duration<double>(Clock::now() - c0).count() / calib;
  const std::size_t iters =
      std::max<std::size_t>(1, static_cast<std::size_t>(opt.seconds / per_burst));
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < iters; ++i) be.seal_burst(b.ops);
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  for (const auto& op : b.ops) {
    if (!op.ok) {
      std::fprintf(stderr, "wghub-aead-bench: %s seal failed\n", std::string(be.name()).c_str());
      std::exit(1);
    }
  }
  return to_result(iters * opt.burst, size, secs);
}

// Open works in place, so the ciphertext is restored between bursts; only
// the open_burst calls themselves are timed.
Result bench_open(AeadBackend& be, std::size_t size, const Options& opt) {
  Burst b(opt.burst, size);
  be.seal_burst(b.ops);
  const std::vector<std::uint8_t> sealed = b.data;
  auto one = [&]() {
    std::memcpy(b.data.data(), sealed.data(), sealed.size());
    const auto t0 = Clock::now();
    be.open_burst(b.ops);
    const auto t1 = Clock::now();
    for (const auto& op : b.ops) {
      if (!op.ok) {
        std::fprintf(stderr, "wghub-aead-bench: %s open failed\n", std::string(be.name()).c_str());
        std::exit(1);
      }
    }
    return std::chrono::duration<double>(t1 - t0).count();
  };
  double calib_time = 0;
  std::size_t calib = 0;
  const auto c0 = Clock::now();
  while (Clock::now() - c0 < std::chrono::milliseconds(20)) {
    calib_time += one();
    ++calib;
  }
  const double per_burst = calib_time / calib;
  const std::size_t iters =
      std::max<std::size_t>(1, static_cast<std::size_t>(opt.seconds / per_burst));
  double secs = 0;
  for (std::size_t i = 0; i < iters; ++i) secs += one();
  return to_result(iters * opt.burst, size, secs);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse_args(argc, argv, opt)) {
    usage(stderr);
    return 2;
  }
  if (sodium_init() < 0) {
    std::fputs("wghub-aead-bench: libsodium failed to initialise\n", stderr);
    return 1;
  }

  std::vector<std::unique_ptr<AeadBackend>> backends;
  backends.push_back(wghub::crypto::make_sodium_backend());
  for (auto arch : wghub::crypto::ipsecmb_supported_arches()) {
    if (auto be = wghub::crypto::make_ipsecmb_backend(arch)) {
      backends.push_back(std::move(be));
    } else {
      std::fprintf(stderr, "note: IPsec-MB %s failed to initialise, skipped\n",
                   std::string(wghub::crypto::to_string(arch)).c_str());
    }
  }

  std::printf("wghub-aead-bench: ChaCha20-Poly1305, one core, burst %zu, ~%.2f s per point\n",
              opt.burst, opt.seconds);
  std::printf("CPU: %s; libsodium %s; IPsec-MB %s\n", wghub::perf::cpu_model().c_str(),
              sodium_version_string(), imb_get_version_str());
  std::printf("Gbit/s = payload bits; xR = Mpps relative to libsodium in this run\n");

  for (int open = 0; open < 2; ++open) {
    std::printf("\n%s\n%6s", open ? "open (decrypt + verify)" : "seal (encrypt + tag)", "size");
    for (const auto& be : backends) std::printf("  %-28s", std::string(be->name()).c_str());
    std::printf("\n");
    for (std::size_t size : opt.sizes) {
      std::printf("%6zu", size);
      double base = 0;
      for (const auto& be : backends) {
        const Result r = open ? bench_open(*be, size, opt) : bench_seal(*be, size, opt);
        if (base == 0) base = r.mpps;
        std::printf("  %6.2f Mpps %6.2f Gb/s x%-5.2f", r.mpps, r.gbps, r.mpps / base);
        std::fflush(stdout);
      }
      std::printf("\n");
    }
  }
  return 0;
}
