// wgperf's command line: engines, packet sizes, peers, lcores, duration,
// burst, the measurement mode, and the output switches. Parsing is pure (no
// DPDK) so the help text and the checks live in one place.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace wghub::perf {

enum class Engine { kIo, kDecap, kEncap, kHubFwd, kHandshake };

std::string_view to_string(Engine e);

// How the worker runs while it is measured.
enum class Mode {
  kStep,   // one worker stepped on the main lcore; only its own cycles count
  kLcore,  // workers launched on lcores 1..N, the main lcore generates and drains
  kDrain,  // rx rings filled first, then N workers empty them; the main lcore sleeps
};

// An inner packet size in bytes, or IMIX (0).
inline constexpr unsigned kImix = 0;
// The IMIX used here: the classic 7:4:1 of 40/576/1500-byte IP packets,
// scaled to the 1420-byte tunnel MTU (64 / 576 / 1420): mean 347.7 bytes.
inline constexpr unsigned kImixPattern[12] = {64, 576, 64, 64, 576, 64, 1420, 64, 576, 64, 64, 576};

std::string size_name(unsigned size);

struct Options {
  std::vector<Engine> engines{Engine::kDecap};
  std::vector<unsigned> sizes{1420};  // inner IPv4 packet bytes; kImix = IMIX
  unsigned peers = 10;
  unsigned lcores = 1;
  unsigned handshake_threads = 0;  // dataplane.handshake_threads (handshake engine)
  double duration = 1.0;  // seconds of measurement per point and repetition
  unsigned burst = 32;
  Mode mode = Mode::kStep;
  unsigned repeat = 1;     // runs per point; the median is reported
  unsigned fill = 256;     // step mode: frames written per generator fill
  unsigned store_mb = 64;  // pre-encrypted frames kept per stream
  bool check = false;      // exit 1 when counters do not add up (smoke test)
  std::string csv;         // append one CSV row per point to this file
  bool verbose = false;    // the hub's log lines too (stdout)
};

// Parses argv. On --help prints the help to stdout and sets `exit_now` with
// code 0; on an error prints it to stderr and returns false.
bool parse_options(int argc, char** argv, Options& out, bool& exit_now);
void print_help(std::FILE* out);

}  // namespace wghub::perf
