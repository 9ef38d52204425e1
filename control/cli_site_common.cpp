// See cli_site_common.hpp.
#include "control/cli_site_common.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <qrencode.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "config/atomic_file.hpp"
#include "config/loader.hpp"
#include "control/cli_store.hpp"
#include "control/uapi_client.hpp"
#include "crypto/x25519.hpp"

namespace wghub::ctl::site {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Context::~Context() {
  if (lock_fd >= 0) ::close(lock_fd);
}

bool load(Context& ctx, const char* verb, bool exclusive) {
  if (ctx.options.config_path.empty()) {
    std::fprintf(stderr, "wghub site %s: --config FILE is required\n", verb);
    return false;
  }
  if (exclusive) {
    ctx.lock_fd = ::open(ctx.options.config_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ctx.lock_fd >= 0 && ::flock(ctx.lock_fd, LOCK_EX) != 0) {
      std::fprintf(stderr, "wghub site %s: cannot lock %s: %s\n", verb,
                   ctx.options.config_path.c_str(), std::strerror(errno));
      return false;
    }
  }
  auto loaded = config::load_config_file(ctx.options.config_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s", loaded.error_text().c_str());
    std::fprintf(stderr, "wghub site %s: %zu error(s) in %s; nothing changed\n", verb,
                 loaded.errors.size(), ctx.options.config_path.c_str());
    return false;
  }
  ctx.state = loaded.state;
  if (!ctx.state->sites) {
    std::fprintf(stderr,
                 "wghub site %s: %s has no 'sites:' section; add one with at least overlay (the "
                 "pool of site addresses) and endpoint (what sites dial), see docs/config.md\n",
                 verb, ctx.options.config_path.c_str());
    return false;
  }
  if (ctx.state->peers_dir.empty()) {
    std::fprintf(stderr,
                 "wghub site %s: %s has no peers_dir; `wghub site` keeps each site in a file "
                 "there (peers_dir: peers.d)\n",
                 verb, ctx.options.config_path.c_str());
    return false;
  }
  crypto::x25519_public(ctx.hub_public_key, std::span<const std::uint8_t, 32>(
                                                ctx.state->interface.private_key->data(), 32));
  ctx.socket_path = ctx.options.socket_dir + "/" + ctx.state->interface.name + ".sock";
  return true;
}

const uapi::PeerStatus* HubStatus::find(const config::PublicKey& key) const {
  for (const auto& p : device.peers)
    if (p.public_key == key) return &p;
  return nullptr;
}

std::optional<HubStatus> hub_status(const Context& ctx, bool& running, std::string& error) {
  bool no_server = false;
  auto reply = uapi::exchange(ctx.socket_path, "get=1\n\n", error, &no_server);
  running = !no_server;
  if (!reply) return std::nullopt;
  running = true;
  if (reply->error != 0) {
    error = ctx.socket_path + ": get failed: " + std::strerror(reply->error);
    return std::nullopt;
  }
  auto device = uapi::parse_get_reply(reply->text, error);
  if (!device) return std::nullopt;
  return HubStatus{reply->server_pid, std::move(*device)};
}

int hub_set(const Context& ctx, const std::string& body, std::string& error) {
  auto reply = uapi::exchange(ctx.socket_path, "set=1\n" + body + "\n", error);
  if (!reply) return -1;
  return reply->error;
}

std::optional<std::chrono::milliseconds> reload_and_wait(
    const Context& ctx, pid_t pid, const std::function<bool(const HubStatus&)>& done,
    std::chrono::milliseconds timeout) {
  const auto t0 = Clock::now();
  if (pid <= 1) {
    // SO_PEERCRED says 0 for a hub in another pid namespace (a container).
    std::fprintf(stderr,
                 "wghub site: the hub's socket does not say its pid; send it SIGHUP yourself\n");
    return std::nullopt;
  }
  if (::kill(pid, SIGHUP) != 0) {
    std::fprintf(stderr, "wghub site: cannot signal the hub (pid %d): %s\n", static_cast<int>(pid),
                 std::strerror(errno));
    return std::nullopt;
  }
  while (Clock::now() - t0 < timeout) {
    bool running = false;
    std::string error;
    auto status = hub_status(ctx, running, error);
    if (status && done(*status))
      return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    if (!running) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

bool push_if_store(const Context& ctx, const char* verb) {
  if (!ctx.state->store.enabled()) return true;
  std::string summary, error;
  if (!push_to_store(ctx.options.config_path, summary, error)) {
    std::fprintf(stderr, "wghub site %s: etcd not updated: %s\n", verb, error.c_str());
    return false;
  }
  std::fprintf(stderr, "wghub site %s: store push: %s\n", verb, summary.c_str());
  return true;
}

std::string peer_file_path(const Context& ctx, const std::string& name) {
  return (fs::path(ctx.state->peers_dir) / (name + ".yaml")).string();
}

namespace {

// Two rows of modules per line with the half blocks, dark on light, and a
// quiet zone of 2 modules (phone cameras read that from a terminal).
void print_qr(const std::string& text) {
  QRcode* code = QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_L, QR_MODE_8, 1);
  if (code == nullptr) {
    std::fprintf(stderr, "wghub site: cannot make a QR code: %s\n", std::strerror(errno));
    return;
  }
  const int quiet = 2;
  const int w = code->width;
  auto dark = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= w || y >= w) return false;
    return (code->data[y * w + x] & 1) != 0;
  };
  std::string out;
  for (int y = -quiet; y < w + quiet; y += 2) {
    for (int x = -quiet; x < w + quiet; ++x) {
      const bool top = dark(x, y);
      const bool bottom = dark(x, y + 1);
      // Light modules are drawn, dark ones left blank (a dark terminal).
      out += !top && !bottom ? "\u2588" : !top ? "\u2580" : !bottom ? "\u2584" : " ";
    }
    out += "\n";
  }
  std::fputs(out.c_str(), stdout);
  QRcode_free(code);
}

}  // namespace

bool deliver_site_file(const Context& ctx, std::string& text) {
  bool ok = true;
  if (!ctx.options.output.empty()) {
    std::string error;
    ok = config::write_file_atomically(ctx.options.output, text, 0600, ctx.options.force, error);
    if (ok) {
      std::fprintf(stderr, "wghub site: wrote the site's wg-quick file %s (mode 0600)\n",
                   ctx.options.output.c_str());
    } else {
      std::fprintf(stderr, "wghub site: %s%s\n", error.c_str(),
                   errno == EEXIST ? " (it exists; -f replaces it)" : "");
    }
  } else {
    std::fputs(text.c_str(), stdout);
  }
  if (ctx.options.qr) print_qr(text);
  std::fflush(stdout);
  crypto::wipe(text.data(), text.size());
  return ok;
}

bool emit_audit(const Context& ctx, AuditEvent& event) {
  const uid_t uid = ::getuid();
  std::string user = std::to_string(uid);
  if (const passwd* pw = ::getpwuid(uid); pw != nullptr) user = pw->pw_name;
  event.add("by_user", user).add("by_uid", std::uint64_t{uid});
  if (const char* sudo = std::getenv("SUDO_USER"); sudo != nullptr) event.add("sudo_user", sudo);
  event.add("by_pid", static_cast<std::uint64_t>(::getpid()));
  std::fprintf(stderr, "wghub site: audit: %s\n", event.str().c_str());
  if (ctx.options.audit_log.empty()) return true;
  std::string error;
  audit_to_stdout(false);
  if (!audit_open_file(ctx.options.audit_log, error)) {
    std::fprintf(stderr, "wghub site: %s\n", error.c_str());
    return false;
  }
  event.emit();
  audit_close_file();
  return true;
}

std::vector<std::string> prefix_strings(const std::vector<config::Prefix>& prefixes) {
  std::vector<std::string> out;
  for (const auto& p : prefixes) out.push_back(p.to_string());
  return out;
}

std::string ago(std::uint64_t unix_sec) {
  if (unix_sec == 0) return "never";
  const auto now = static_cast<std::uint64_t>(std::time(nullptr));
  const std::uint64_t d = now > unix_sec ? now - unix_sec : 0;
  if (d < 120) return std::to_string(d) + " s ago";
  if (d < 7200) return std::to_string(d / 60) + " min ago";
  if (d < 172800) return std::to_string(d / 3600) + " h ago";
  return std::to_string(d / 86400) + " days ago";
}

}  // namespace wghub::ctl::site
