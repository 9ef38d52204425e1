// EAL arguments and pre-checks, hugepage detection, devargs helpers. Pure:
// no EAL is started here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "dataplane/eal.hpp"
#include "dataplane/port.hpp"

namespace wghub::dp {
namespace {

using Args = std::vector<std::string>;

EalOptions options(std::vector<unsigned> workers, MemoryMode memory) {
  EalOptions o;
  o.worker_lcores = std::move(workers);
  o.memory = memory;
  return o;
}

TEST(EalArguments, AutoWithHugepages) {
  EXPECT_EQ(eal_arguments(options({1}, MemoryMode::kAuto), true),
            (Args{"-l", "0,1", "--main-lcore", "0", "--in-memory", "--no-telemetry"}));
}

TEST(EalArguments, AutoWithoutHugepages) {
  EXPECT_EQ(eal_arguments(options({1}, MemoryMode::kAuto), false),
            (Args{"-l", "0,1", "--main-lcore", "0", "--no-huge", "-m", "512", "--no-shconf",
                  "--no-telemetry"}));
}

TEST(EalArguments, HugeAndNoHugeIgnoreDetection) {
  const Args huge = eal_arguments(options({2, 1}, MemoryMode::kHuge), false);
  EXPECT_EQ(huge, (Args{"-l", "0,1,2", "--main-lcore", "0", "--in-memory", "--no-telemetry"}));
  EalOptions o = options({3}, MemoryMode::kNoHuge);
  o.memory_mb = 256;
  o.main_lcore = 2;
  o.no_pci = true;
  o.extra = {"--vdev=net_ring0", "--log-level=lib.eal:error"};
  EXPECT_EQ(eal_arguments(o, true),
            (Args{"-l", "2,3", "--main-lcore", "2", "--no-huge", "-m", "256", "--no-shconf",
                  "--no-pci", "--no-telemetry", "--vdev=net_ring0", "--log-level=lib.eal:error"}));
  o.telemetry = true;
  const Args with_telemetry = eal_arguments(o, true);
  EXPECT_EQ(std::count(with_telemetry.begin(), with_telemetry.end(), "--no-telemetry"), 0);
}

// wgperf --mode drain: more lcores than CPUs, lcore l on CPU l % n.
TEST(EalArguments, WrappedLcoresMapOntoTheAllowedCpus) {
  EalOptions o = options({1, 2, 3}, MemoryMode::kHuge);
  o.wrap_lcores = true;
  const Args args = eal_arguments(o, true);
  ASSERT_GE(args.size(), 4u);
  EXPECT_EQ(args[0], "--lcores");
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  ASSERT_GT(n, 0);
  // Each lcore once, on a CPU that exists (the allowed set is a subset of online).
  for (unsigned l = 0; l <= 3; ++l) {
    const std::string item = std::to_string(l) + "@";
    const auto at = args[1].find(l == 0 ? item : "," + item);
    ASSERT_NE(at, std::string::npos) << args[1];
  }
  EXPECT_EQ(std::count(args[1].begin(), args[1].end(), '@'), 4);
  EXPECT_EQ(args[2], "--main-lcore");
  EXPECT_TRUE(check_eal_options(o, true).empty()) << check_eal_options(o, true);
  o.wrap_lcores = false;
  o.worker_lcores = {static_cast<unsigned>(n) + 5};
  EXPECT_FALSE(check_eal_options(o, true).empty());
}

TEST(EalArguments, MemoryModeNames) {
  EXPECT_EQ(parse_memory_mode("auto"), MemoryMode::kAuto);
  EXPECT_EQ(parse_memory_mode("huge"), MemoryMode::kHuge);
  EXPECT_EQ(parse_memory_mode("no-huge"), MemoryMode::kNoHuge);
  EXPECT_FALSE(parse_memory_mode("nohuge"));
}

TEST(Hugepages, DetectionNeedsMountAndFreePages) {
  const std::string mounted =
      "proc /proc proc rw 0 0\nhugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n";
  const std::string not_mounted = "proc /proc proc rw 0 0\n";
  const std::string free_pages =
      "MemTotal: 1000 kB\nHugePages_Total:     256\n"
      "HugePages_Free:      200\nHugepagesize:       2048 kB\n";
  const std::string no_free = "HugePages_Total:     256\nHugePages_Free:        0\n";
  EXPECT_TRUE(hugepages_available(mounted, free_pages));
  EXPECT_FALSE(hugepages_available(mounted, no_free));
  EXPECT_FALSE(hugepages_available(not_mounted, free_pages));
  EXPECT_FALSE(hugepages_available(mounted, "MemTotal: 1000 kB\n"));
}

TEST(EalChecks, LcoresMustExist) {
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  ASSERT_GT(cores, 0);
  const unsigned missing = static_cast<unsigned>(cores) + 3;
  if (missing < 128) {
    const std::string e = check_eal_options(options({missing}, MemoryMode::kNoHuge), false);
    EXPECT_NE(e.find("lcore " + std::to_string(missing) + " does not exist on this machine"),
              std::string::npos)
        << e;
  }
  const std::string beyond = check_eal_options(options({100000}, MemoryMode::kNoHuge), false);
  EXPECT_NE(beyond.find("lcore 100000"), std::string::npos) << beyond;
}

TEST(EalChecks, MainLcoreIsNotAWorkerAndHugeNeedsPages) {
  EXPECT_NE(
      check_eal_options(options({0}, MemoryMode::kNoHuge), false).find("main (control) lcore"),
      std::string::npos);
  const std::string huge = check_eal_options(options({}, MemoryMode::kHuge), false);
  EXPECT_NE(huge.find("no free hugepages"), std::string::npos) << huge;
  EXPECT_EQ(check_eal_options(options({}, MemoryMode::kNoHuge), false), "");
  EXPECT_EQ(check_eal_options(options({}, MemoryMode::kHuge), true), "");
}

TEST(Devargs, DeviceNameAndQueueCount) {
  EXPECT_EQ(devargs_device_name("net_af_packet0,iface=veth0"), "net_af_packet0");
  EXPECT_EQ(devargs_device_name("0000:3b:00.0"), "0000:3b:00.0");
  EXPECT_EQ(devargs_with_queue_count("net_af_packet0,iface=veth0", 3),
            "net_af_packet0,iface=veth0,qpairs=3");
  EXPECT_EQ(devargs_with_queue_count("net_af_packet0,iface=veth0", 1),
            "net_af_packet0,iface=veth0");
  EXPECT_EQ(devargs_with_queue_count("net_af_packet0,qpairs=4,iface=veth0", 3),
            "net_af_packet0,qpairs=4,iface=veth0");
  EXPECT_EQ(devargs_with_queue_count("net_ring0", 3), "net_ring0");
  EXPECT_EQ(devargs_with_queue_count("0000:3b:00.0", 8), "0000:3b:00.0");
}

TEST(Devargs, Value) {
  EXPECT_EQ(devarg_value("net_af_packet0,iface=veth0,qpairs=2", "iface"), "veth0");
  EXPECT_EQ(devarg_value("net_af_packet0,qpairs=2,iface=wan0", "iface"), "wan0");
  EXPECT_EQ(devarg_value("net_af_packet0,ifacex=veth0", "iface"), std::nullopt);
  EXPECT_EQ(devarg_value("net_af_packet0", "iface"), std::nullopt);
  EXPECT_EQ(devarg_value("iface=veth0", "iface"), std::nullopt) << "the device name is no key";
}

}  // namespace
}  // namespace wghub::dp
