// What the `wghub site` commands share (control/cli_site*.cpp): the loaded
// config, the running hub reached through its wg(8) socket (status, set,
// SIGHUP to the pid SO_PEERCRED names, waiting for a reload to land),
// atomic file writes, the QR code and the audit line with who ran it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "config/site_plan.hpp"
#include "control/audit.hpp"
#include "control/uapi.hpp"

namespace wghub::ctl::site {

struct Options {
  std::string config_path;
  std::string audit_log;
  std::string socket_dir = "/var/run/wireguard";
  std::string output;  // -o FILE for the site's wg-quick file
  bool force = false;
  bool qr = false;
  std::string public_key;  // --public-key
  std::string lans;        // --lan CIDR[,CIDR...]
  unsigned wait_s = 600;   // rotate: how long the old key stays while waiting for the new
};

struct Context {
  Context() = default;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context();
  Options options;
  int lock_fd = -1;  // the config file, flock'ed while a command changes sites
  std::shared_ptr<const config::DesiredState> state;
  config::PublicKey hub_public_key{};
  std::string socket_path;
};

// Loads and checks the config (errors printed as file:line:col); false on
// any error, or when it has no `sites:` section or no peers_dir. `exclusive`
// (add, rotate, revoke) first takes an exclusive flock(2) on the config file,
// held until the command ends, so two commands never hand out one address.
bool load(Context& ctx, const char* verb, bool exclusive = false);

// The running hub: pid and peers; nullopt when none serves the socket
// (`running` false) or the exchange failed (`error` set).
struct HubStatus {
  pid_t pid = -1;
  uapi::DeviceStatus device;
  const uapi::PeerStatus* find(const config::PublicKey& key) const;
};
std::optional<HubStatus> hub_status(const Context& ctx, bool& running, std::string& error);

// A set request; its errno (0 = done), or -1 with `error`.
int hub_set(const Context& ctx, const std::string& body, std::string& error);
// SIGHUP to the hub, then polls its status until `done` holds (every 20 ms,
// up to `timeout`). The time it took, or nullopt.
std::optional<std::chrono::milliseconds> reload_and_wait(
    const Context& ctx, pid_t pid, const std::function<bool(const HubStatus&)>& done,
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// With a store (docs/ha.md) the hubs take their peers from etcd, not from
// peers_dir: after a change to the files, `wghub store push` of the config.
// True when there is no store or the push went through; false with a
// message naming `verb` otherwise.
bool push_if_store(const Context& ctx, const char* verb);

// The site's peer file in peers_dir.
std::string peer_file_path(const Context& ctx, const std::string& name);

// Prints the site's wg-quick text: to -o FILE (0600) or stdout, and as a
// terminal QR code with --qr. The text is wiped afterwards.
bool deliver_site_file(const Context& ctx, std::string& text);

// Adds who ran the command (user, uid, and sudo's user when set; the
// event's "ts" says when), then appends the line to --audit-log FILE and
// copies it to stderr. False when the file cannot be written.
bool emit_audit(const Context& ctx, AuditEvent& event);

std::vector<std::string> prefix_strings(const std::vector<config::Prefix>& prefixes);
// "12 s ago", "3 min ago", "never".
std::string ago(std::uint64_t unix_sec);

// The verbs (exit status 0 done, 1 refused or failed).
int add(Context& ctx, const std::string& name);     // cli_site.cpp
int list(Context& ctx);                             // cli_site.cpp
int show(Context& ctx, const std::string& name);    // cli_site.cpp
int rotate(Context& ctx, const std::string& name);  // cli_site_keys.cpp
int revoke(Context& ctx, const std::string& name);  // cli_site_keys.cpp

// The site NAME, with its peer file (refused with a message when NAME is no
// site or is not defined in a peers_dir file).
struct FoundSite {
  config::SiteView view;
  std::string file;
};
std::optional<FoundSite> find_site(const Context& ctx, const std::string& name, const char* verb);
// A key pair: generated (private key set), or the site's own public key
// from --public-key. False with a message on a bad key or one in use.
bool site_key(const Context& ctx, const char* verb, std::optional<crypto::Key>& private_key,
              config::PublicKey& public_key);

}  // namespace wghub::ctl::site
