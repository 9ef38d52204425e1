#include "control/cpu_affinity.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

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

bool lower_this_thread() {
  thread_local int done = 0;  // 1: lowered, -1: refused
  if (done == 0) {
    const id_t tid = static_cast<id_t>(gettid());
    errno = 0;
    const int now = getpriority(PRIO_PROCESS, tid);  // -1 is a valid nice value
    const int want = errno == 0 ? std::max(now, kBackgroundNice) : kBackgroundNice;
    done = setpriority(PRIO_PROCESS, tid, want) == 0 ? 1 : -1;
  }
  return done == 1;
}

}  // namespace wghub::ctl
