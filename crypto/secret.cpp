#include "crypto/secret.hpp"

#include <cerrno>

#include <sodium.h>
#include <sys/mman.h>
#include <sys/prctl.h>

namespace wghub::crypto {

void wipe(void* p, std::size_t len) noexcept {
  sodium_memzero(p, len);
}

bool equal_ct(const std::uint8_t* a, const std::uint8_t* b, std::size_t len) noexcept {
  return sodium_memcmp(a, b, len) == 0;
}

bool harden_process_memory() noexcept {
  // No core dumps and no ptrace by unprivileged users: a dump would carry keys.
  bool ok = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0;
  // Keep every page that holds data resident, so keys never reach swap.
  // MCL_ONFAULT locks a page when it is first touched instead of populating
  // a whole mapping when it is made: without it every mmap and brk of another
  // thread (a 1 GB scrape, a reload's parse) faulted its pages in while
  // holding the address space's lock, and the control thread's own brk waited
  // behind it (2.1 s once at 2^20 peers, perf sched). An untouched page holds
  // nothing to protect. Kernels before 4.4 lack the flag: lock as before.
  int rc = mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT);
  if (rc != 0 && errno == EINVAL) rc = mlockall(MCL_CURRENT | MCL_FUTURE);
  return rc == 0 && ok;
}

}  // namespace wghub::crypto
