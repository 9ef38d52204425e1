// The CPUs the hub's helper threads run on (handshake threads, the reload's
// parse and the peers_dir parse threads it starts): every online CPU that no
// worker lcore takes. EAL pins the main lcore's thread to one CPU, and a
// thread inherits its creator's CPUs, so without this every helper would
// share the control thread's single CPU.
#pragma once

#include <pthread.h>

#include <vector>

namespace wghub::ctl {

// The online CPUs minus `worker_lcores` (EAL's default mapping: lcore id =
// CPU id). Empty when the workers take every CPU.
std::vector<unsigned> spare_cpus(const std::vector<unsigned>& worker_lcores);

// Lets `thread` run on any of `cpus`; false if the OS refused (nothing
// changes for an empty list).
bool allow_cpus(pthread_t thread, const std::vector<unsigned>& cpus);

// The nice value of the hub's background threads: the reload's parse, the
// metrics exporter's serialising and gzip, the disposer. On a box where the
// workers' lcores take all but one CPU these share it with the control
// thread, which answers handshakes; at the same nice value the kernel lets
// them run whole time slices before the control thread gets the CPU back
// (measured: 10-28 ms control polls with a scrape or a reload of 10^5 peers
// under way, each with involuntary context switches and a fraction of that
// in CPU time). At nice 10 a waking control thread preempts them at once.
inline constexpr int kBackgroundNice = 10;

// Gives the calling thread kBackgroundNice (never a higher priority than it
// has), once per thread (later calls are free). Best effort: false if the
// OS refused.
bool lower_this_thread();

}  // namespace wghub::ctl
