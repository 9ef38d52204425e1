// wghub: the WireGuard concentrator. Parses the command line, loads the YAML
// config (file:line:column errors, nothing started on a bad file) and runs
// the hub: EAL, ports, worker lcores and the control thread (control/hub).
#include <getopt.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "config/loader.hpp"
#include "control/cli_convert.hpp"
#include "control/cli_site.hpp"
#include "control/cli_store.hpp"
#include "control/hub.hpp"
#include "control/store_start.hpp"

namespace {

// meson.build's project version (control/meson.build passes it).
constexpr const char* kVersion = WGHUB_VERSION;

void usage(FILE* to) {
  std::fprintf(
      to,
      "usage: wghub --config FILE [options]\n"
      "       wghub import WG0.CONF [options]     wg-quick file -> wghub YAML + key files\n"
      "       wghub export --config FILE [options] wghub YAML -> wg-quick file\n"
      "       wghub site add|list|show|rotate|revoke ...  onboard sites (wghub site --help)\n"
      "       wghub store push|diff -c FILE        the file's peers -> etcd (store: section)\n"
      "       (wghub import --help, wghub export --help, wghub site --help, wghub store --help)\n"
      "\n"
      "A WireGuard hub with a DPDK data plane. Sites dial in with stock WireGuard;\n"
      "see docs/config.md for the configuration and README.md for operation.\n"
      "\n"
      "options:\n"
      "  -c, --config FILE     YAML configuration (required)\n"
      "      --check-config    load and validate FILE, print a summary, exit\n"
      "                        (0 = valid, 1 = errors, printed as file:line:col)\n"
      "      --poll            busy-poll always (default: workers back off to short\n"
      "                        sleeps when idle, which suits shared or small machines)\n"
      "      --status-interval SECONDS\n"
      "                        print a status line every SECONDS (default 10, 0 = off)\n"
      "      --audit-log FILE  append the audit trail (JSON lines: config applied,\n"
      "                        peers added/removed/changed, handshakes, under load)\n"
      "                        to FILE as well as stdout\n"
      "      --eal ARGS        extra DPDK EAL arguments, space separated\n"
      "                        (e.g. \"--log-level=pmd:debug\")\n"
      "  -V, --version         print the version and exit\n"
      "  -h, --help            this text\n"
      "\n"
      "signals: SIGHUP re-reads FILE and applies the peer changes, SIGUSR1 prints a\n"
      "status dump, SIGINT/SIGTERM stop the hub cleanly.\n"
      "\n"
      "The wg(8) tool works against the running hub: wg show <interface.name>.\n");
}

void print_summary(const wghub::config::DesiredState& s) {
  std::printf("config %s: OK\n", s.source_file.c_str());
  std::printf("  interface %s, listen port %u, %zu peer(s)\n", s.interface.name.c_str(),
              s.interface.listen_port, s.peers.size());
  std::printf("  wan %s  address %s\n", s.ports.wan.devargs.c_str(),
              s.ports.wan.address.to_string().c_str());
  std::printf("  lan %s  address %s, %zu static route(s)\n", s.ports.lan.devargs.c_str(),
              s.ports.lan.address.to_string().c_str(), s.ports.lan.routes.size());
  std::printf("  worker lcores:");
  for (unsigned l : s.dataplane.lcores) std::printf(" %u", l);
  std::printf(", burst %u\n", s.dataplane.burst_size);
  if (s.store.enabled()) {
    std::printf("  store: etcd");
    for (const auto& e : s.store.endpoints) std::printf(" %s", e.c_str());
    std::printf(
        ", prefix %s; the hub runs the store's peers, the ones below are what\n"
        "  `wghub store push` writes (wghub store diff -c FILE shows the difference)\n",
        s.store.prefix.c_str());
  }
  for (const auto& p : s.peers) {
    std::printf("  peer %-20s allowed_ips", p.name.c_str());
    for (const auto& prefix : p.allowed_ips) std::printf(" %s", prefix.to_string().c_str());
    if (p.endpoint) std::printf("  endpoint %s", p.endpoint->to_string().c_str());
    std::printf("\n");
  }
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  // Subcommands: `wghub import ...` / `wghub export ...` / `wghub site ...` (argv[0] becomes the
  // subcommand).
  if (argc >= 2 && std::strcmp(argv[1], "import") == 0)
    return wghub::ctl::run_import(argc - 1, argv + 1);
  if (argc >= 2 && std::strcmp(argv[1], "export") == 0)
    return wghub::ctl::run_export(argc - 1, argv + 1);
  if (argc >= 2 && std::strcmp(argv[1], "site") == 0)
    return wghub::ctl::run_site(argc - 1, argv + 1);
  if (argc >= 2 && std::strcmp(argv[1], "store") == 0)
    return wghub::ctl::run_store(argc - 1, argv + 1);
  enum { kCheckConfig = 1000, kPoll, kStatusInterval, kEal, kAuditLog };
  static const option long_options[] = {
      {"config", required_argument, nullptr, 'c'},
      {"check-config", no_argument, nullptr, kCheckConfig},
      {"poll", no_argument, nullptr, kPoll},
      {"status-interval", required_argument, nullptr, kStatusInterval},
      {"eal", required_argument, nullptr, kEal},
      {"audit-log", required_argument, nullptr, kAuditLog},
      {"version", no_argument, nullptr, 'V'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  std::string config_path;
  bool check_only = false;
  wghub::ctl::HubOptions options;
  int c;
  while ((c = getopt_long(argc, argv, "c:Vh", long_options, nullptr)) != -1) {
    switch (c) {
      case 'c':
        config_path = optarg;
        break;
      case kCheckConfig:
        check_only = true;
        break;
      case kPoll:
        options.busy_poll = true;
        break;
      case kStatusInterval: {
        char* end = nullptr;
        long v = std::strtol(optarg, &end, 10);
        if (*end != '\0' || v < 0 || v > 86400) {
          std::fprintf(stderr, "wghub: --status-interval wants seconds 0..86400, got '%s'\n",
                       optarg);
          return 2;
        }
        options.status_interval_s = static_cast<unsigned>(v);
        break;
      }
      case kEal:
        options.extra_eal_args = optarg;
        break;
      case kAuditLog:
        options.audit_log = optarg;
        break;
      case 'V':
        std::printf("wghub %s\n", kVersion);
        return 0;
      case 'h':
        usage(stdout);
        return 0;
      default:
        usage(stderr);
        return 2;
    }
  }
  if (optind != argc) {
    std::fprintf(stderr, "wghub: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "wghub: --config FILE is required\n");
    usage(stderr);
    return 2;
  }

  options.started = std::chrono::steady_clock::now();
  auto loaded = wghub::config::load_config_file(config_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s", loaded.error_text().c_str());
    std::fprintf(stderr, "wghub: %zu error(s) in %s; nothing started\n", loaded.errors.size(),
                 config_path.c_str());
    return 1;
  }
  if (check_only) {
    print_summary(*loaded.state);
    return 0;
  }
  auto state = loaded.state;
  if (state->store.enabled()) {
    // The peers are the store's (docs/ha.md): etcd, else the cached state.
    wghub::ctl::StoreStart start;
    if (!wghub::ctl::start_from_store(config_path, *state, start)) return 1;
    options.store_snapshot = start.snapshot;
    state = start.state;
  }
  options.config_seconds = seconds_since(options.started);
  return wghub::ctl::run_hub(state, options);
}
