// Brings up DPDK's EAL once for a unit-test binary that needs it (the FIBs'
// memzones, RCU, the keypair and peer tables). rte_eal_init may run only once per process, hence a
// gtest global Environment registered at static-initialisation time.
#include <gtest/gtest.h>
#include <rte_eal.h>

#include <array>

namespace {

class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    std::array<const char*, 11> args = {
        "wghub-unit", "-l",  "0",        "--no-huge",      "--no-shconf",
        "-m",         "512", "--no-pci", "--no-telemetry", "--log-level=lib.eal:error",
        nullptr};
    const int rc = rte_eal_init(static_cast<int>(args.size() - 1), const_cast<char**>(args.data()));
    ASSERT_GE(rc, 0) << "rte_eal_init failed";
  }
  void TearDown() override { rte_eal_cleanup(); }
};

[[maybe_unused]] ::testing::Environment* const kEal =
    ::testing::AddGlobalTestEnvironment(new EalEnvironment);

}  // namespace
