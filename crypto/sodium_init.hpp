// Internal to crypto/: libsodium must be initialised once before its random
// generator is used, and sodium_init() also selects the fastest ChaCha20 and
// Poly1305 code for this CPU (without it libsodium runs its reference code).
#pragma once

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace wghub::crypto::detail {

inline void ensure_sodium() {
  // A function-local static: thread-safe, runs once per process. sodium_init
  // returns 1 when already initialised, -1 only if it cannot run at all.
  static const bool ok = [] {
    if (sodium_init() < 0) {
      std::fputs("wghub: libsodium failed to initialise\n", stderr);
      std::abort();
    }
    return true;
  }();
  (void)ok;
}

}  // namespace wghub::crypto::detail
