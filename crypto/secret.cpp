#include "crypto/secret.hpp"

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
  // Keep everything resident so keys never reach swap.
  ok = (mlockall(MCL_CURRENT | MCL_FUTURE) == 0) && ok;
  return ok;
}

}  // namespace wghub::crypto
