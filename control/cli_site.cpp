// `wghub site`: the command line (options, usage) and the add, list and show
// verbs; rotate and revoke are in cli_site_keys.cpp, the shared parts in
// cli_site_common.cpp, the plan (allocator, checks, files) in
// config/site_plan.cpp.
#include "control/cli_site.hpp"

#include <getopt.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "config/atomic_file.hpp"
#include "config/loader.hpp"
#include "control/cli_site_common.hpp"
#include "crypto/base64.hpp"
#include "crypto/x25519.hpp"

namespace wghub::ctl {

namespace site {

namespace {

void usage(FILE* to) {
  std::fprintf(
      to,
      "usage: wghub site add NAME --lan CIDR[,CIDR...] -c CONFIG [--public-key KEY] [-o FILE] "
      "[--qr]\n"
      "       wghub site list -c CONFIG\n"
      "       wghub site show NAME -c CONFIG\n"
      "       wghub site rotate NAME -c CONFIG [--public-key KEY] [-o FILE] [--qr] [--wait S]\n"
      "       wghub site revoke NAME -c CONFIG\n"
      "\n"
      "Onboards WireGuard sites on the hub whose YAML is CONFIG: each site is one file in its\n"
      "peers_dir, and its overlay address comes from the config's sites.overlay pool\n"
      "(docs/config.md, \"sites\"). A running hub (found by its wg(8) socket\n"
      "/var/run/wireguard/<interface.name>.sock) gets every change at once, without a restart.\n"
      "\n"
      "  add     allocates the lowest free overlay address, makes the site's key pair (or takes\n"
      "          the site's own public key: then no private key exists at the hub), writes\n"
      "          peers_dir/NAME.yaml, has the running hub load it, and prints the site's complete\n"
      "          wg-quick file (bring the site up with just that file: wg-quick up FILE)\n"
      "  list    every site: overlay address, LANs, last handshake, endpoint, bytes\n"
      "  show    one site in full\n"
      "  rotate  a new key pair and a new site file. The old key keeps working until the site\n"
      "          first handshakes with the new one (within --wait seconds, default 600); then\n"
      "          the hub switches the site's addresses to the new key and drops the old one.\n"
      "  revoke  cuts the site off on the running hub at once, removes its file, writes an\n"
      "          audit line (who, when)\n"
      "\n"
      "options:\n"
      "  -c, --config FILE     the hub's YAML (loaded and checked as `wghub --config`)\n"
      "      --lan CIDRS       add: the site's LAN prefixes, separated by commas\n"
      "      --public-key KEY  add, rotate: the site's own public key (wg pubkey)\n"
      "  -o, --output FILE     write the site's wg-quick file here (mode 0600) instead of stdout\n"
      "  -f, --force           replace an existing --output FILE\n"
      "      --qr              also print the site's file as a QR code (wireguard apps scan it)\n"
      "      --wait SECONDS    rotate: how long to wait for the site's new key (default 600)\n"
      "      --audit-log FILE  append the audit line (JSON) here too; use the hub's file\n"
      "      --socket-dir DIR  where the hub's wg(8) socket is (default /var/run/wireguard)\n"
      "  -h, --help            this text\n"
      "\n"
      "exit status: 0 done, 1 refused or failed (nothing changed unless it says so), 2 usage.\n");
}

std::string peers_line(const std::vector<config::Prefix>& p) {
  std::string s;
  for (std::size_t i = 0; i < p.size(); ++i) s += (i ? "," : "") + p[i].to_string();
  return s.empty() ? "-" : s;
}

std::string bytes(std::uint64_t n) {
  char buf[32];
  if (n < 10 * 1024) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  } else if (n < 10ull * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1024 * 1024));
  }
  return buf;
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return name.front() != '.';
}

}  // namespace

std::optional<FoundSite> find_site(const Context& ctx, const std::string& name, const char* verb) {
  const config::Peer* peer = ctx.state->find_peer(name);
  if (peer == nullptr) {
    std::fprintf(stderr, "wghub site %s: no site named '%s' in %s\n", verb, name.c_str(),
                 ctx.options.config_path.c_str());
    return std::nullopt;
  }
  auto view = config::as_site(*peer, *ctx.state->sites);
  if (!view) {
    std::fprintf(stderr,
                 "wghub site %s: peer '%s' (%s) has no address in the overlay pool %s, so it is "
                 "no site; change it by hand\n",
                 verb, name.c_str(), peer->origin.to_string().c_str(),
                 ctx.state->sites->overlay.to_string().c_str());
    return std::nullopt;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(ctx.state->peers_dir, ec);
  const fs::path file = fs::weakly_canonical(peer->origin.file, ec);
  if (file.parent_path() != dir) {
    std::fprintf(stderr,
                 "wghub site %s: site '%s' is defined in %s, not in a file of peers_dir %s; "
                 "change it there by hand\n",
                 verb, name.c_str(), peer->origin.to_string().c_str(),
                 ctx.state->peers_dir.c_str());
    return std::nullopt;
  }
  return FoundSite{*view, peer->origin.file};
}

bool site_key(const Context& ctx, const char* verb, std::optional<crypto::Key>& private_key,
              config::PublicKey& public_key) {
  if (!ctx.options.public_key.empty()) {
    auto key = crypto::key_from_base64(ctx.options.public_key);
    if (!key) {
      std::fprintf(stderr,
                   "wghub site %s: --public-key is not a WireGuard public key (44 base64 "
                   "characters, as `wg pubkey` prints)\n",
                   verb);
      return false;
    }
    public_key = *key;
  } else {
    private_key.emplace();
    crypto::x25519_generate(std::span<std::uint8_t, 32>(private_key->data(), 32));
    crypto::x25519_public(public_key, std::span<const std::uint8_t, 32>(private_key->data(), 32));
  }
  if (const config::Peer* other = ctx.state->find_peer(public_key); other != nullptr) {
    std::fprintf(stderr, "wghub site %s: that public key is peer '%s''s already (%s)\n", verb,
                 other->name.c_str(), other->origin.to_string().c_str());
    return false;
  }
  if (public_key == ctx.hub_public_key) {
    std::fprintf(stderr, "wghub site %s: that public key is the hub's own\n", verb);
    return false;
  }
  return true;
}

int add(Context& ctx, const std::string& name) {
  if (!valid_name(name)) {
    std::fprintf(stderr,
                 "wghub site add: '%s' is not a valid site name; use 1 to 64 characters from "
                 "A-Z a-z 0-9 _ . - (not starting with .)\n",
                 name.c_str());
    return 2;
  }
  if (ctx.options.lans.empty()) {
    std::fprintf(stderr, "wghub site add: --lan CIDR[,CIDR...] is required (the site's LANs)\n");
    return 2;
  }
  if (!load(ctx, "add", true)) return 1;
  const config::DesiredState& state = *ctx.state;
  if (const config::Peer* p = state.find_peer(name); p != nullptr) {
    std::fprintf(stderr,
                 "wghub site add: a peer named '%s' exists already (%s); pick another name\n",
                 name.c_str(), p->origin.to_string().c_str());
    return 1;
  }
  const std::string file = peer_file_path(ctx, name);
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) {
    std::fprintf(stderr, "wghub site add: %s exists already; pick another name\n", file.c_str());
    return 1;
  }

  std::vector<config::Prefix> lans;
  std::string rest = ctx.options.lans;
  bool bad = false;
  for (std::size_t start = 0; start <= rest.size();) {
    std::size_t comma = rest.find(',', start);
    if (comma == std::string::npos) comma = rest.size();
    const std::string text = rest.substr(start, comma - start);
    start = comma + 1;
    auto prefix = config::Prefix::parse(text);
    if (!prefix) {
      std::fprintf(stderr, "wghub site add: --lan '%s': %s\n", text.c_str(), prefix.error.c_str());
      bad = true;
    } else {
      lans.push_back(*prefix.value);
    }
  }
  if (bad) return 1;
  const auto problems = config::lan_problems(state, lans);
  for (const auto& p : problems) std::fprintf(stderr, "wghub site add: %s\n", p.c_str());
  if (!problems.empty()) {
    std::fprintf(stderr, "wghub site add: site '%s' refused; nothing changed\n", name.c_str());
    return 1;
  }

  std::optional<crypto::Key> private_key;
  config::PublicKey public_key{};
  if (!site_key(ctx, "add", private_key, public_key)) return 1;
  auto address = config::allocate_overlay(state);
  if (!address) {
    std::fprintf(stderr, "wghub site add: %s\n", address.error.c_str());
    return 1;
  }
  const config::Prefix overlay = config::Prefix::from(*address.value, 128);

  // The hub's trust rules: owned by the user writing it (root), writable by it only.
  std::string error;
  if (!config::write_file_atomically(file, config::site_peer_yaml(name, public_key, overlay, lans),
                                     0644, false, error)) {
    std::fprintf(stderr, "wghub site add: %s\n", error.c_str());
    return 1;
  }
  // The whole config with the new file, checked as the hub will check it.
  auto again = config::load_config_file(ctx.options.config_path);
  if (!again.ok()) {
    std::fprintf(stderr, "%s", again.error_text().c_str());
    std::filesystem::remove(file, ec);
    std::fprintf(stderr, "wghub site add: the config does not load with the new site; removed %s\n",
                 file.c_str());
    return 1;
  }
  std::fprintf(stderr, "wghub site add: site %s: overlay %s, LAN %s; wrote %s\n", name.c_str(),
               address.value->to_string().c_str(), peers_line(lans).c_str(), file.c_str());
  if (!push_if_store(ctx, "add")) {
    std::filesystem::remove(file, ec);
    std::fprintf(stderr, "wghub site add: removed %s; nothing changed\n", file.c_str());
    return 1;
  }

  std::string text = config::site_wgquick(
      state, name, *address.value, private_key ? &*private_key : nullptr, ctx.hub_public_key);
  const bool delivered = deliver_site_file(ctx, text);

  bool running = false;
  auto status = hub_status(ctx, running, error);
  int rc = delivered ? 0 : 1;
  std::string applied = "hub not running";
  if (!status) {
    if (running) {
      std::fprintf(stderr, "wghub site add: cannot reach the hub: %s\n", error.c_str());
      rc = 1;
    } else {
      std::fprintf(stderr,
                   "wghub site add: no hub is running (%s); it loads the site when it starts\n",
                   ctx.socket_path.c_str());
    }
  } else {
    const std::size_t want = lans.size() + 1;
    auto took = reload_and_wait(ctx, status->pid, [&](const HubStatus& s) {
      const uapi::PeerStatus* p = s.find(public_key);
      return p != nullptr && p->allowed_ips.size() == want;
    });
    if (took) {
      applied = "applied in " + std::to_string(took->count()) + " ms";
      std::fprintf(stderr, "wghub site add: the running hub (pid %d) has the site: %s\n",
                   static_cast<int>(status->pid), applied.c_str());
    } else {
      applied = "not applied";
      std::fprintf(stderr,
                   "wghub site add: the running hub (pid %d) did not load the site within 10 s; "
                   "see its log (a reload error?). The file stays; SIGHUP the hub to retry\n",
                   static_cast<int>(status->pid));
      rc = 1;
    }
  }
  AuditEvent event("site_added");
  event.add("site", name)
      .add("public_key", crypto::key_to_base64(public_key.data()))
      .add("overlay", address.value->to_string())
      .add("lans", prefix_strings(lans))
      .add("site_generated_key", private_key.has_value())
      .add("hub", applied);
  if (!emit_audit(ctx, event)) rc = 1;
  return rc;
}

int list(Context& ctx) {
  if (!load(ctx, "list")) return 1;
  bool running = false;
  std::string error;
  auto status = hub_status(ctx, running, error);
  if (!status)
    std::printf("# %s\n", running ? ("cannot reach the hub: " + error).c_str()
                                  : ("hub not running (" + ctx.socket_path + ")").c_str());
  std::printf("%-20s %-18s %-28s %-14s %-22s %10s %10s\n", "NAME", "OVERLAY", "LAN", "HANDSHAKE",
              "ENDPOINT", "RX", "TX");
  std::size_t n = 0;
  for (const config::Peer& peer : ctx.state->peers) {
    auto site = config::as_site(peer, *ctx.state->sites);
    if (!site) continue;
    ++n;
    const uapi::PeerStatus* live = status ? status->find(peer.public_key) : nullptr;
    std::printf("%-20s %-18s %-28s %-14s %-22s %10s %10s\n", peer.name.c_str(),
                site->overlay.address().to_string().c_str(), peers_line(site->lans).c_str(),
                !status ? "-"
                : live  ? ago(live->last_handshake_sec).c_str()
                        : "not loaded",
                live && live->endpoint ? live->endpoint->to_string().c_str() : "-",
                live ? bytes(live->rx_bytes).c_str() : "-",
                live ? bytes(live->tx_bytes).c_str() : "-");
  }
  std::printf("# %zu site(s); pool %s\n", n, ctx.state->sites->overlay.to_string().c_str());
  return 0;
}

int show(Context& ctx, const std::string& name) {
  if (!load(ctx, "show")) return 1;
  const config::Peer* peer = ctx.state->find_peer(name);
  if (peer == nullptr) {
    std::fprintf(stderr, "wghub site show: no site named '%s'\n", name.c_str());
    return 1;
  }
  auto site = config::as_site(*peer, *ctx.state->sites);
  if (!site) {
    std::fprintf(stderr, "wghub site show: peer '%s' has no address in the overlay pool\n",
                 name.c_str());
    return 1;
  }
  std::printf("site:            %s\n", name.c_str());
  std::printf("file:            %s\n", peer->origin.file.c_str());
  std::printf("public key:      %s\n", crypto::key_to_base64(peer->public_key.data()).c_str());
  std::printf("overlay:         %s\n", site->overlay.address().to_string().c_str());
  std::printf("LAN:             %s\n", peers_line(site->lans).c_str());
  bool running = false;
  std::string error;
  auto status = hub_status(ctx, running, error);
  if (!status) {
    std::printf("hub:             %s\n",
                running ? ("cannot reach it: " + error).c_str() : "hub not running");
    return 0;
  }
  const uapi::PeerStatus* live = status->find(peer->public_key);
  if (live == nullptr) {
    std::printf("hub:             running (pid %d), but it has not loaded this site\n",
                static_cast<int>(status->pid));
    return 0;
  }
  std::printf("hub:             running (pid %d)\n", static_cast<int>(status->pid));
  std::printf("endpoint:        %s\n",
              live->endpoint ? live->endpoint->to_string().c_str() : "(none yet)");
  std::printf("last handshake:  %s\n", ago(live->last_handshake_sec).c_str());
  std::printf("transfer:        %s received, %s sent\n", bytes(live->rx_bytes).c_str(),
              bytes(live->tx_bytes).c_str());
  std::printf("allowed IPs:     %s\n", peers_line(live->allowed_ips).c_str());
  return 0;
}

}  // namespace site

int run_site(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0) {
    site::usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string verb = argv[1];
  enum { kLan = 1000, kPublicKey, kQr, kWait, kAuditLog, kSocketDir };
  static const option long_options[] = {
      {"config", required_argument, nullptr, 'c'},
      {"lan", required_argument, nullptr, kLan},
      {"public-key", required_argument, nullptr, kPublicKey},
      {"output", required_argument, nullptr, 'o'},
      {"force", no_argument, nullptr, 'f'},
      {"qr", no_argument, nullptr, kQr},
      {"wait", required_argument, nullptr, kWait},
      {"audit-log", required_argument, nullptr, kAuditLog},
      {"socket-dir", required_argument, nullptr, kSocketDir},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  site::Context ctx;
  site::Options& o = ctx.options;
  optind = 0;
  int c;
  while ((c = getopt_long(argc - 1, argv + 1, "c:o:fh", long_options, nullptr)) != -1) {
    switch (c) {
      case 'c':
        o.config_path = optarg;
        break;
      case kLan:
        o.lans = optarg;
        break;
      case kPublicKey:
        o.public_key = optarg;
        break;
      case 'o':
        o.output = optarg;
        break;
      case 'f':
        o.force = true;
        break;
      case kQr:
        o.qr = true;
        break;
      case kWait: {
        char* end = nullptr;
        const long v = std::strtol(optarg, &end, 10);
        if (*end != '\0' || v < 1 || v > 86400) {
          std::fprintf(stderr, "wghub site: --wait wants seconds 1..86400, got '%s'\n", optarg);
          return 2;
        }
        o.wait_s = static_cast<unsigned>(v);
        break;
      }
      case kAuditLog:
        o.audit_log = optarg;
        break;
      case kSocketDir:
        o.socket_dir = optarg;
        break;
      case 'h':
        site::usage(stdout);
        return 0;
      default:
        site::usage(stderr);
        return 2;
    }
  }
  std::vector<std::string> args(argv + 1 + optind, argv + argc);
  const bool wants_name = verb != "list";
  if (verb != "add" && verb != "list" && verb != "show" && verb != "rotate" && verb != "revoke") {
    std::fprintf(stderr, "wghub site: unknown command '%s' (add, list, show, rotate, revoke)\n",
                 verb.c_str());
    return 2;
  }
  if (args.size() != (wants_name ? 1u : 0u)) {
    std::fprintf(
        stderr,
        wants_name ? "wghub site %s: give one site NAME\n" : "wghub site %s: takes no NAME\n",
        verb.c_str());
    return 2;
  }
  std::error_code ec;
  if (!o.output.empty() && !o.force &&
      std::filesystem::symlink_status(o.output, ec).type() !=
          std::filesystem::file_type::not_found) {
    std::fprintf(stderr, "wghub site %s: %s exists; -f replaces it. Nothing changed\n",
                 verb.c_str(), o.output.c_str());
    return 1;
  }
  if (verb == "add") return site::add(ctx, args[0]);
  if (verb == "list") return site::list(ctx);
  if (verb == "show") return site::show(ctx, args[0]);
  if (verb == "rotate") return site::rotate(ctx, args[0]);
  return site::revoke(ctx, args[0]);
}

}  // namespace wghub::ctl
