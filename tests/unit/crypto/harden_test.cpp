// harden_process_memory: every page that holds data is locked, and making a
// large mapping does not fault it in (MCL_ONFAULT). Run in a child process:
// the lock lasts for the rest of the process.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "crypto/secret.hpp"
#include "tests/memory_lock.hpp"

namespace {

using wghub::test::page_size;
using wghub::test::resident_pages;

// VmLck from /proc/self/status, in KiB; -1 when absent.
long locked_kib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::sscanf(line, "VmLck: %ld kB", &kib) == 1) break;
  std::fclose(f);
  return kib;
}

// The child's checks; its exit code says which failed (77: not permitted).
int child() {
  if (!wghub::crypto::harden_process_memory()) return 77;
  constexpr std::size_t kLen = 64u << 20;
  const std::size_t page = page_size();
  const long before = locked_kib();
  void* p = mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 10;
  if (resident_pages(p, kLen) != 0) return 11;  // populated when mapped
  // Touch half: those pages are resident and locked, the rest are not.
  auto* bytes = static_cast<unsigned char*>(p);
  for (std::size_t off = 0; off < kLen / 2; off += page) bytes[off] = 1;
  if (resident_pages(p, kLen) != kLen / 2 / page) return 12;
  const long after = locked_kib();
  if (before < 0 || after - before < static_cast<long>(kLen / 2 / 1024)) return 13;
  return 0;
}

}  // namespace

TEST(HardenProcessMemory, TouchedPagesAreLockedAndMappingsAreNotPopulated) {
  if (wghub::test::kMlockIsANoop) GTEST_SKIP() << "a sanitizer makes mlockall a no-op";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(child());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "mlockall not permitted here (RLIMIT_MEMLOCK)";
  // 11: a new mapping was faulted in when made; 12: touched pages not
  // resident, or untouched ones resident; 13: touched pages not locked.
  EXPECT_EQ(WEXITSTATUS(status), 0);
}
