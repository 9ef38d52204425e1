// EAL start: the first thing the data plane does. Turns the configured lcores
// and memory mode into rte_eal_init arguments (--in-memory with hugepages,
// --no-huge --no-shconf without: no files in /var/run either way, so several
// instances and tests can run side by side), checks what it
// can beforehand so a bad setting gets a message that says what to fix, and
// starts EAL once per process.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wghub::dp {

enum class MemoryMode {
  kAuto,    // hugepages if hugetlbfs is mounted with free pages, else --no-huge
  kHuge,    // hugepages or fail
  kNoHuge,  // --no-huge -m memory_mb (anonymous memory: fine for af_packet/vdevs)
};

// "auto", "huge", "no-huge".
std::optional<MemoryMode> parse_memory_mode(std::string_view text);

struct EalOptions {
  std::vector<unsigned> worker_lcores;  // config dataplane.lcores
  unsigned main_lcore = 0;              // runs the control thread
  MemoryMode memory = MemoryMode::kAuto;
  unsigned memory_mb = 512;        // -m with --no-huge
  bool no_pci = false;             // tests and labs with only vdevs
  bool telemetry = false;          // DPDK's telemetry socket: off unless asked for
  std::vector<std::string> extra;  // passed through last (--vdev, --log-level, -d ...)
  // Benchmarks only (wgperf --mode drain): lcore l runs on CPU l % (CPUs
  // allowed), so a tool can have more lcores than CPUs (--lcores l@cpu); the
  // check that every lcore is a CPU of its own is skipped.
  bool wrap_lcores = false;
};

// The EAL arguments without argv[0]. Pure: `hugepages` says whether hugepages
// are usable (hugepages_available()); it decides kAuto.
std::vector<std::string> eal_arguments(const EalOptions& options, bool hugepages);

// hugetlbfs is mounted and /proc/meminfo has HugePages_Free > 0.
bool hugepages_available();
// The same decision from the text of /proc/mounts and /proc/meminfo.
bool hugepages_available(std::string_view proc_mounts, std::string_view proc_meminfo);

// Checks the options against this machine (lcores exist and are in our CPU
// set, the main lcore is not a worker, hugepages for kHuge). Empty when fine,
// else the message.
std::string check_eal_options(const EalOptions& options, bool hugepages);

// Starts EAL once per process. Returns false with a message saying what to
// fix. A second call after a successful start returns true and changes
// nothing (the first options stay in force).
bool eal_start(const EalOptions& options, std::string& error);
bool eal_started();

// Faults in and locks every EAL memory segment (mlock). The hub locks its
// memory a page at a time as it is first touched (MCL_ONFAULT); without this
// a --no-huge hub's workers would take those faults as packets first land in
// the pool. Hugepage segments are resident already. Returns the bytes locked;
// false (error says why) when the kernel refuses some of it.
bool eal_lock_memory(std::size_t& locked, std::string& error);

}  // namespace wghub::dp
