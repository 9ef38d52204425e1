// The CPU check behind crypto/lanes.hpp's dispatch.
#include "crypto/lanes.hpp"

namespace wghub::crypto::lanes {
namespace {
bool g_avx512 = __builtin_cpu_supports("avx512f");
}  // namespace

bool have_avx512() {
  return g_avx512;
}

void use_avx512_for_testing(bool on) {
  g_avx512 = on && __builtin_cpu_supports("avx512f");
}

}  // namespace wghub::crypto::lanes
