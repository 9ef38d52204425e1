// EAL start: argument building, pre-checks with clear messages, rte_eal_init.
#include "dataplane/eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_memory.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

namespace wghub::dp {
namespace {

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "0-3,6" from a sorted set of CPU ids.
std::string format_ranges(const std::vector<unsigned>& ids) {
  std::string out;
  for (std::size_t i = 0; i < ids.size();) {
    std::size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(ids[i]);
    if (j > i) out += '-' + std::to_string(ids[j]);
    i = j + 1;
  }
  return out;
}

std::vector<unsigned> allowed_cpus() {
  std::vector<unsigned> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (unsigned c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

std::mutex g_eal_mutex;
bool g_eal_started = false;

}  // namespace

std::optional<MemoryMode> parse_memory_mode(std::string_view text) {
  if (text == "auto") return MemoryMode::kAuto;
  if (text == "huge") return MemoryMode::kHuge;
  if (text == "no-huge") return MemoryMode::kNoHuge;
  return std::nullopt;
}

std::vector<std::string> eal_arguments(const EalOptions& o, bool hugepages) {
  std::set<unsigned> lcores(o.worker_lcores.begin(), o.worker_lcores.end());
  lcores.insert(o.main_lcore);
  std::string list;
  for (unsigned l : lcores) {
    if (!list.empty()) list += ',';
    list += std::to_string(l);
  }

  std::vector<std::string> args{"-l", list, "--main-lcore", std::to_string(o.main_lcore)};
  if (o.wrap_lcores) {
    const std::vector<unsigned> cpus = allowed_cpus();
    std::string map;
    for (unsigned l : lcores) {
      if (!map.empty()) map += ',';
      map += std::to_string(l) + "@" + std::to_string(cpus.empty() ? 0 : cpus[l % cpus.size()]);
    }
    args = {"--lcores", map, "--main-lcore", std::to_string(o.main_lcore)};
  }
  const bool huge = o.memory == MemoryMode::kHuge || (o.memory == MemoryMode::kAuto && hugepages);
  if (huge) {
    // No runtime files in /var/run, hugepage files unlinked once mapped.
    args.emplace_back("--in-memory");
  } else {
    // DPDK 22.11 treats --no-huge as legacy memory, which refuses --in-memory
    // ("Option --legacy-mem is not compatible with --in-memory"); --no-shconf
    // is the part of --in-memory that applies: no shared config files.
    args.insert(args.end(), {"--no-huge", "-m", std::to_string(o.memory_mb), "--no-shconf"});
  }
  if (o.no_pci) args.emplace_back("--no-pci");
  if (!o.telemetry) args.emplace_back("--no-telemetry");
  args.insert(args.end(), o.extra.begin(), o.extra.end());
  return args;
}

bool hugepages_available(std::string_view mounts, std::string_view meminfo) {
  // /proc/mounts: "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0"
  bool mounted = false;
  std::istringstream m{std::string(mounts)};
  for (std::string line; std::getline(m, line);) {
    std::istringstream fields(line);
    std::string device, dir, type;
    if (fields >> device >> dir >> type && type == "hugetlbfs") mounted = true;
  }
  if (!mounted) return false;
  std::istringstream mi{std::string(meminfo)};
  for (std::string line; std::getline(mi, line);) {
    std::istringstream fields(line);
    std::string key;
    long long value = 0;
    if (fields >> key >> value && key == "HugePages_Free:") return value > 0;
  }
  return false;
}

bool hugepages_available() {
  return hugepages_available(read_file("/proc/mounts"), read_file("/proc/meminfo"));
}

std::string check_eal_options(const EalOptions& o, bool hugepages) {
  const std::vector<unsigned> cpus = allowed_cpus();
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  std::vector<unsigned> all(o.worker_lcores);
  all.insert(all.begin(), o.main_lcore);
  for (unsigned l : all) {
    if (l >= RTE_MAX_LCORE)
      return "lcore " + std::to_string(l) + " is beyond DPDK's limit (lcores 0-" +
             std::to_string(RTE_MAX_LCORE - 1) + ")";
    if (!o.wrap_lcores && std::find(cpus.begin(), cpus.end(), l) == cpus.end()) {
      if (online > 0 && l >= static_cast<unsigned long>(online))
        return "lcore " + std::to_string(l) + " does not exist on this machine (" +
               std::to_string(online) + " cores: " + format_ranges(cpus) + ")";
      return "lcore " + std::to_string(l) +
             " is not in this process's CPU set (allowed: " + format_ranges(cpus) + ")";
    }
  }
  if (std::find(o.worker_lcores.begin(), o.worker_lcores.end(), o.main_lcore) !=
      o.worker_lcores.end())
    return "lcore " + std::to_string(o.main_lcore) +
           " is the main (control) lcore and cannot also be a worker";
  std::set<unsigned> unique(o.worker_lcores.begin(), o.worker_lcores.end());
  if (unique.size() != o.worker_lcores.size()) return "a worker lcore is listed twice";
  if (o.memory == MemoryMode::kHuge && !hugepages)
    return "memory 'huge': no free hugepages (mount hugetlbfs on /dev/hugepages and reserve "
           "pages, e.g. echo 256 > /proc/sys/vm/nr_hugepages), or use memory 'auto'/'no-huge'";
  if (o.memory_mb == 0) return "memory_mb must be above 0";
  return {};
}

bool eal_start(const EalOptions& o, std::string& error) {
  std::lock_guard lock(g_eal_mutex);
  if (g_eal_started) return true;
  const bool huge = hugepages_available();
  error = check_eal_options(o, huge);
  if (!error.empty()) return false;

  std::vector<std::string> args = eal_arguments(o, huge);
  args.insert(args.begin(), "wghub");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    std::string joined;
    for (std::size_t i = 1; i < args.size(); ++i) joined += (i > 1 ? " " : "") + args[i];
    error = "EAL failed to start (" + std::string(rte_strerror(rte_errno)) + ") with: " + joined;
    if (rte_errno == EALREADY) error += " (EAL was already started in this process)";
    return false;
  }
  g_eal_started = true;
  return true;
}

namespace {

struct LockWalk {
  std::size_t locked = 0;
  int error = 0;
};

int lock_contiguous(const rte_memseg_list*, const rte_memseg* ms, std::size_t len, void* arg) {
  auto* walk = static_cast<LockWalk*>(arg);
  if (mlock(ms->addr, len) == 0)
    walk->locked += len;
  else if (walk->error == 0)
    walk->error = errno;
  return 0;
}

}  // namespace

bool eal_lock_memory(std::size_t& locked, std::string& error) {
  LockWalk walk;
  rte_memseg_contig_walk(lock_contiguous, &walk);
  locked = walk.locked;
  if (walk.error == 0) return true;
  error = std::string("cannot lock DPDK's memory: ") + std::strerror(walk.error);
  return false;
}

bool eal_started() {
  std::lock_guard lock(g_eal_mutex);
  return g_eal_started;
}

}  // namespace wghub::dp
