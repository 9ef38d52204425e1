// `wghub import` / `wghub export` (see cli_convert.hpp): option parsing,
// messages and files around the converter in config/wgquick. Key material is
// never printed except by an explicit `export --include-private-key` to stdout.
#include "control/cli_convert.hpp"

#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "config/atomic_file.hpp"
#include "config/loader.hpp"
#include "config/wgquick.hpp"
#include "crypto/secret.hpp"

namespace wghub::ctl {

namespace {

void import_usage(FILE* to) {
  std::fprintf(
      to,
      "usage: wghub import WG-QUICK.CONF [options]\n"
      "\n"
      "Converts a wg-quick hub configuration (wg-quick(8), e.g. /etc/wireguard/wg0.conf) into\n"
      "wghub's YAML. Writes into DIR:\n"
      "  wghub.yaml     the configuration; it holds no key material\n"
      "  private.key    the hub's PrivateKey (mode 0600)\n"
      "  psk/NAME.key   each peer's PresharedKey (mode 0600)\n"
      "\n"
      "Peer names come from '# friendly_name = NAME' comments inside a [Peer] section (as\n"
      "prometheus_wireguard_exporter reads them), else from a plain '# NAME' comment on the\n"
      "line directly above [Peer], else 'peer-' and the first 8 characters of the key; names\n"
      "are fitted to wghub's rule (A-Z a-z 0-9 _ . -, 1 to 64), with a warning when changed.\n"
      "The interface name is the file name without .conf, as with wg-quick.\n"
      "\n"
      "A wg-quick file does not say which NIC ports the hub drives: give them below, or\n"
      "fill in the CHANGE-ME placeholders in wghub.yaml afterwards.\n"
      "\n"
      "options:\n"
      "  -o, --output DIR        where to write (default: the current directory; created if\n"
      "                          missing)\n"
      "      --wan-devargs ARGS  DPDK devargs of the WAN port (e.g. \"0000:3b:00.0\")\n"
      "      --wan-address CIDR  the appliance's WAN address with its subnet (198.51.100.10/24)\n"
      "      --wan-gateway ADDR  the WAN default next hop (optional)\n"
      "      --lan-devargs ARGS  DPDK devargs of the LAN port\n"
      "      --lan-address CIDR  the appliance's LAN address with its subnet\n"
      "      --name NAME         the interface name (default: the file name without .conf)\n"
      "  -n, --dry-run           print the YAML to stdout and write nothing\n"
      "  -f, --force             overwrite existing files in DIR\n"
      "  -h, --help              this text\n"
      "\n"
      "Errors (bad keys, bad CIDRs, unknown sections or keys) are printed as file:line:column\n"
      "and nothing is written. wg-quick-only settings (DNS, MTU, Table, PreUp, PostUp, PreDown,\n"
      "PostDown, SaveConfig, FwMark) are ignored with a warning naming their line.\n"
      "When all four port options are given, the written config is loaded as `wghub --config`\n"
      "would load it.\n"
      "\n"
      "exit status: 0 done, 1 errors in the input or the written config, or a failed write,\n"
      "2 usage error.\n");
}

void export_usage(FILE* to) {
  std::fprintf(
      to,
      "usage: wghub export --config WGHUB.YAML [options]\n"
      "\n"
      "Writes the WireGuard side of a wghub configuration as a wg-quick(8) file: [Interface]\n"
      "PrivateKey, ListenPort, Address; each peer as a [Peer] section with a\n"
      "'# friendly_name = NAME' comment (as prometheus_wireguard_exporter reads it), PublicKey,\n"
      "PresharedKey, AllowedIPs, Endpoint and PersistentKeepalive. Ports, data plane and\n"
      "metrics settings have no wg-quick equivalent and are left out.\n"
      "\n"
      "Keys: with --output the file is created with mode 0600 and holds the private and\n"
      "preshared keys. Written to stdout, the key lines are replaced by comments unless\n"
      "--include-private-key asks for them.\n"
      "\n"
      "options:\n"
      "  -c, --config FILE          the wghub YAML (loaded and checked as `wghub --config`)\n"
      "  -o, --output FILE          write here (mode 0600) instead of stdout; an existing file\n"
      "                             is refused unless --force\n"
      "      --include-private-key  print the keys to stdout too\n"
      "  -f, --force                replace an existing --output FILE\n"
      "  -h, --help                 this text\n"
      "\n"
      "exit status: 0 done, 1 the config does not load or the write failed, 2 usage error.\n");
}

void print_diagnostics(const std::vector<config::ConfigError>& list, const char* kind) {
  for (const auto& e : list) {
    std::string where = config::Location{e.file, e.line, e.column}.to_string();
    std::fprintf(stderr, "%s: %s: %s%s%s\n", where.c_str(), kind, e.field.c_str(),
                 e.field.empty() ? "" : ": ", e.message.c_str());
  }
}

bool plain_text_option(const char* what, const std::string& value) {
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20) {
      std::fprintf(stderr, "wghub import: %s must be one line of text\n", what);
      return false;
    }
  }
  return true;
}

}  // namespace

int run_import(int argc, char** argv) {
  enum { kWanDevargs = 1000, kWanAddress, kWanGateway, kLanDevargs, kLanAddress, kName };
  static const option long_options[] = {
      {"output", required_argument, nullptr, 'o'},
      {"wan-devargs", required_argument, nullptr, kWanDevargs},
      {"wan-address", required_argument, nullptr, kWanAddress},
      {"wan-gateway", required_argument, nullptr, kWanGateway},
      {"lan-devargs", required_argument, nullptr, kLanDevargs},
      {"lan-address", required_argument, nullptr, kLanAddress},
      {"name", required_argument, nullptr, kName},
      {"dry-run", no_argument, nullptr, 'n'},
      {"force", no_argument, nullptr, 'f'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  std::string output = ".";
  bool dry_run = false;
  bool force = false;
  config::ImportOptions options;
  optind = 0;  // glibc: a full re-scan, whatever parsed argv before
  int c;
  while ((c = getopt_long(argc, argv, "o:nfh", long_options, nullptr)) != -1) {
    switch (c) {
      case 'o':
        output = optarg;
        break;
      case kWanDevargs:
        options.wan_devargs = optarg;
        break;
      case kWanAddress:
        options.wan_address = optarg;
        break;
      case kWanGateway:
        options.wan_gateway = optarg;
        break;
      case kLanDevargs:
        options.lan_devargs = optarg;
        break;
      case kLanAddress:
        options.lan_address = optarg;
        break;
      case kName:
        options.interface_name = optarg;
        break;
      case 'n':
        dry_run = true;
        break;
      case 'f':
        force = true;
        break;
      case 'h':
        import_usage(stdout);
        return 0;
      default:
        import_usage(stderr);
        return 2;
    }
  }
  if (optind + 1 != argc) {
    std::fprintf(stderr, optind == argc ? "wghub import: which wg-quick file? (WG-QUICK.CONF)\n"
                                        : "wghub import: one wg-quick file at a time\n");
    import_usage(stderr);
    return 2;
  }
  const std::string input = argv[optind];
  for (const auto* a : {&options.wan_address, &options.lan_address}) {
    if (a->empty()) continue;
    auto parsed = config::InterfaceAddress::parse(*a);
    if (!parsed) {
      std::fprintf(stderr, "wghub import: %s address '%s': %s\n",
                   a == &options.wan_address ? "--wan" : "--lan", a->c_str(), parsed.error.c_str());
      return 2;
    }
  }
  if (!options.wan_gateway.empty() && !config::IpAddress::parse(options.wan_gateway)) {
    std::fprintf(stderr, "wghub import: --wan-gateway '%s' is not an IP address\n",
                 options.wan_gateway.c_str());
    return 2;
  }
  if (!plain_text_option("--wan-devargs", options.wan_devargs) ||
      !plain_text_option("--lan-devargs", options.lan_devargs) ||
      !plain_text_option("--name", options.interface_name)) {
    return 2;
  }
  options.source = input;

  auto parsed = config::read_wgquick_file(input);
  print_diagnostics(parsed.warnings, "warning");
  if (!parsed.ok()) {
    print_diagnostics(parsed.errors, "error");
    std::fprintf(stderr, "wghub import: %zu error(s) in %s; nothing written\n",
                 parsed.errors.size(), input.c_str());
    return 1;
  }
  const auto& cfg = *parsed.config;
  if (dry_run) {
    std::fputs(config::to_wghub_yaml(cfg, options).c_str(), stdout);
    return 0;
  }

  std::vector<std::string> written;
  auto errors = config::write_import(cfg, options, output, force, &written);
  for (const auto& e : errors) std::fprintf(stderr, "wghub import: %s\n", e.c_str());
  for (const auto& w : written) std::fprintf(stderr, "wghub import: wrote %s\n", w.c_str());
  if (!errors.empty()) return 1;

  const std::string yaml = (std::filesystem::path(output) / config::kImportYamlFile).string();
  std::fprintf(stderr, "wghub import: %zu peer(s) from %s\n", cfg.peers.size(), input.c_str());
  if (config::has_placeholders(options)) {
    std::fprintf(stderr,
                 "wghub import: fill in the %s values in %s (the WAN/LAN ports), then check it "
                 "with: wghub --config %s --check-config\n",
                 config::kPlaceholder, yaml.c_str(), yaml.c_str());
    return 0;
  }
  auto loaded = config::load_config_file(yaml);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s", loaded.error_text().c_str());
    std::fprintf(stderr, "wghub import: %s was written but does not load (errors above)\n",
                 yaml.c_str());
    return 1;
  }
  std::fprintf(stderr, "wghub import: %s loads; start with: wghub --config %s\n", yaml.c_str(),
               yaml.c_str());
  return 0;
}

int run_export(int argc, char** argv) {
  enum { kIncludePrivateKey = 1000 };
  static const option long_options[] = {
      {"config", required_argument, nullptr, 'c'},
      {"output", required_argument, nullptr, 'o'},
      {"include-private-key", no_argument, nullptr, kIncludePrivateKey},
      {"force", no_argument, nullptr, 'f'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  std::string config_path;
  std::string output;
  bool include_keys = false;
  bool force = false;
  optind = 0;
  int c;
  while ((c = getopt_long(argc, argv, "c:o:fh", long_options, nullptr)) != -1) {
    switch (c) {
      case 'c':
        config_path = optarg;
        break;
      case 'o':
        output = optarg;
        break;
      case kIncludePrivateKey:
        include_keys = true;
        break;
      case 'f':
        force = true;
        break;
      case 'h':
        export_usage(stdout);
        return 0;
      default:
        export_usage(stderr);
        return 2;
    }
  }
  if (optind != argc) {
    std::fprintf(stderr, "wghub export: unexpected argument '%s'\n", argv[optind]);
    export_usage(stderr);
    return 2;
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "wghub export: --config FILE is required\n");
    export_usage(stderr);
    return 2;
  }

  auto loaded = config::load_config_file(config_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s", loaded.error_text().c_str());
    std::fprintf(stderr, "wghub export: %zu error(s) in %s; nothing written\n",
                 loaded.errors.size(), config_path.c_str());
    return 1;
  }

  if (output.empty()) {
    std::string text = config::to_wgquick(*loaded.state, {.include_secrets = include_keys});
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    crypto::wipe(text.data(), text.size());
    if (!include_keys) {
      std::fprintf(stderr,
                   "wghub export: keys left out of stdout; use --output FILE (mode 0600) or "
                   "--include-private-key\n");
    }
    return 0;
  }

  namespace fs = std::filesystem;
  std::error_code ec;
  if (!force && fs::symlink_status(output, ec).type() != fs::file_type::not_found) {
    std::fprintf(stderr, "wghub export: '%s' exists; refusing to overwrite it (use --force)\n",
                 output.c_str());
    return 1;
  }
  // A 0600 temporary next to the target, renamed over it: the keys are never
  // in a file others can read, and a failed write leaves the old file intact.
  std::string text = config::to_wgquick(*loaded.state, {.include_secrets = true});
  std::string error;
  const bool ok = config::write_file_atomically(output, text, 0600, true, error);
  crypto::wipe(text.data(), text.size());
  if (!ok) {
    std::fprintf(stderr, "wghub export: %s\n", error.c_str());
    return 1;
  }
  std::fprintf(stderr, "wghub export: wrote %s (%zu peer(s), mode 0600)\n", output.c_str(),
               loaded.state->peers.size());
  return 0;
}

}  // namespace wghub::ctl
