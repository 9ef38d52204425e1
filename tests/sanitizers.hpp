// What the sanitizer builds (scripts/sanitize) change under a test's feet.
#pragma once

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

}  // namespace wghub::test
