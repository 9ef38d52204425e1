#include "control/cpu_affinity.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>

namespace wghub::ctl {

std::vector<unsigned> spare_cpus(const std::vector<unsigned>& worker_lcores) {
  std::vector<unsigned> cpus;
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  for (long cpu = 0; cpu < online; ++cpu)
    if (std::find(worker_lcores.begin(), worker_lcores.end(), cpu) == worker_lcores.end())
      cpus.push_back(static_cast<unsigned>(cpu));
  return cpus;
}

bool allow_cpus(pthread_t thread, const std::vector<unsigned>& cpus) {
  if (cpus.empty()) return true;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (unsigned cpu : cpus)
    if (cpu < CPU_SETSIZE) CPU_SET(cpu, &set);
  return pthread_setaffinity_np(thread, sizeof set, &set) == 0;
}

}  // namespace wghub::ctl
