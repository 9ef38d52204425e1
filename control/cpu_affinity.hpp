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

}  // namespace wghub::ctl
