// EAL for the pipeline binary: started once per process (rte_eal_init may
// run only once) by a gtest global Environment, the way the hub starts it
// (dp::eal_start): main lcore only (the tests step the workers on their own
// thread), no PCI, anonymous memory (--no-huge), no vdevs: each test makes
// its own net_ring ports with rte_eth_from_rings.
#include <gtest/gtest.h>
#include <rte_eal.h>

#include <string>

#include "dataplane/eal.hpp"

namespace {

class PipelineEal : public ::testing::Environment {
 public:
  void SetUp() override {
    wghub::dp::EalOptions o;
    o.no_pci = true;
    o.memory = wghub::dp::MemoryMode::kNoHuge;
    o.memory_mb = 1024;
    o.extra = {"--log-level=lib.eal:error", "--log-level=pmd.net.ring:error"};
    std::string error;
    ASSERT_TRUE(wghub::dp::eal_start(o, error)) << error;
  }
  void TearDown() override { rte_eal_cleanup(); }
};

[[maybe_unused]] ::testing::Environment* const kEal =
    ::testing::AddGlobalTestEnvironment(new PipelineEal);

}  // namespace
