// For tests of what the kernel locks and keeps resident.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <vector>

namespace wghub::test {

// ASan and TSan intercept mlock and mlockall and make them no-ops (locking
// their shadow memory would take the machine): a test of what the kernel
// locks has nothing to look at under them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kMlockIsANoop = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kMlockIsANoop = true;
#else
inline constexpr bool kMlockIsANoop = false;
#endif
#else
inline constexpr bool kMlockIsANoop = false;
#endif

inline std::size_t page_size() {
  return static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// Pages of [p, p + len) that are resident (mincore); ~0 when mincore fails.
inline std::size_t resident_pages(void* p, std::size_t len) {
  std::vector<unsigned char> vec((len + page_size() - 1) / page_size());
  if (mincore(p, len, vec.data()) != 0) return ~std::size_t{0};
  std::size_t n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n;
}

}  // namespace wghub::test
