// `wghub site rotate` and `wghub site revoke`: a site's key changes or goes,
// on the running hub through its wg(8) socket first (at once), then in the
// site's peers_dir file, then a SIGHUP so that the hub's running config is
// the files again.
//
// Rotation without a long outage: the hub learns the new key at once, with no
// AllowedIPs (it can handshake, nothing is routed to it), while the old key
// keeps the site's addresses and keeps working. The site installs its new
// file whenever it can; at the new key's first handshake (polled every
// 100 ms) one wg(8) set moves the addresses to the new key and removes the
// old one. The site is unreachable only between its own switch and that set:
// a fraction of a second. No handshake within --wait: the new key is removed
// again and nothing changed.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "config/atomic_file.hpp"
#include "control/cli_site_common.hpp"
#include "control/uapi.hpp"
#include "crypto/base64.hpp"

namespace wghub::ctl::site {

namespace {

using Clock = std::chrono::steady_clock;

std::string remove_body(const config::PublicKey& key) {
  return "public_key=" + uapi::key_to_hex(key) + "\nremove=true\n";
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

int rotate(Context& ctx, const std::string& name) {
  if (!load(ctx, "rotate", true)) return 1;
  auto site = find_site(ctx, name, "rotate");
  if (!site) return 1;
  const config::Peer& old_peer = *site->view.peer;
  std::optional<crypto::Key> private_key;
  config::PublicKey new_key{};
  if (!site_key(ctx, "rotate", private_key, new_key)) return 1;
  const std::string new_b64 = crypto::key_to_base64(new_key.data());
  const std::string new_file =
      config::site_peer_yaml(name, new_key, site->view.overlay, site->view.lans);

  bool running = false;
  std::string error;
  auto status = hub_status(ctx, running, error);
  if (!status && running) {
    std::fprintf(stderr, "wghub site rotate: cannot reach the hub: %s; nothing changed\n",
                 error.c_str());
    return 1;
  }
  std::string text =
      config::site_wgquick(*ctx.state, name, site->view.overlay.address(),
                           private_key ? &*private_key : nullptr, ctx.hub_public_key);
  AuditEvent event("site_rotated");
  event.add("site", name)
      .add("old_public_key", crypto::key_to_base64(old_peer.public_key.data()))
      .add("public_key", new_b64);

  if (!status) {
    // No hub: the file is all there is; the hub starts with the new key.
    // The site's file first: without it the new key would lock the site out.
    if (!deliver_site_file(ctx, text)) {
      std::fprintf(stderr, "wghub site rotate: nothing changed\n");
      return 1;
    }
    if (!config::write_file_atomically(site->file, new_file, 0644, true, error)) {
      std::fprintf(stderr, "wghub site rotate: %s; nothing changed (forget that site file)\n",
                   error.c_str());
      return 1;
    }
    std::fprintf(stderr,
                 "wghub site rotate: no hub is running (%s); %s now holds the new key, which "
                 "the hub loads when it starts\n",
                 ctx.socket_path.c_str(), site->file.c_str());
    if (!push_if_store(ctx, "rotate")) return 1;
    event.add("hub", "hub not running");
    return emit_audit(ctx, event) ? 0 : 1;
  }

  // 1. The hub learns the new key, without addresses: the old key keeps them.
  const std::string new_hex = uapi::key_to_hex(new_key);
  int e = hub_set(ctx, "public_key=" + new_hex + "\n", error);
  if (e != 0) {
    std::fprintf(stderr, "wghub site rotate: the hub refused the new key (%s); nothing changed\n",
                 e < 0 ? error.c_str() : std::strerror(e));
    return 1;
  }
  if (!deliver_site_file(ctx, text)) {
    hub_set(ctx, remove_body(new_key), error);
    std::fprintf(stderr, "wghub site rotate: the new key is removed again; nothing changed\n");
    return 1;
  }
  std::fprintf(stderr,
               "wghub site rotate: the hub knows the new key %s; the old one keeps working. "
               "Waiting up to %u s for site %s to connect with its new file...\n",
               new_b64.c_str(), ctx.options.wait_s, name.c_str());

  // 2. The site's first handshake with the new key.
  const auto deadline = Clock::now() + std::chrono::seconds(ctx.options.wait_s);
  bool switched = false;
  while (Clock::now() < deadline) {
    auto now = hub_status(ctx, running, error);
    if (!now && !running) break;
    const uapi::PeerStatus* p = now ? now->find(new_key) : nullptr;
    if (now && p == nullptr) break;  // a restart or someone removed it
    if (p != nullptr && p->last_handshake_sec != 0) {
      switched = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!switched) {
    hub_set(ctx, remove_body(new_key), error);
    std::fprintf(stderr,
                 "wghub site rotate: site %s did not connect with its new key within %u s (or "
                 "the hub went away); the new key is removed again, the old key stays, nothing "
                 "changed\n",
                 name.c_str(), ctx.options.wait_s);
    return 1;
  }

  // 3. One set: the addresses move to the new key, the old key goes.
  const auto t0 = Clock::now();
  std::string body = "public_key=" + new_hex + "\nreplace_allowed_ips=true\n";
  body += "allowed_ip=" + site->view.overlay.to_string() + "\n";
  for (const auto& lan : site->view.lans) body += "allowed_ip=" + lan.to_string() + "\n";
  body += remove_body(old_peer.public_key);
  e = hub_set(ctx, body, error);
  if (e != 0) {
    std::fprintf(stderr, "wghub site rotate: the hub refused the switch (%s)\n",
                 e < 0 ? error.c_str() : std::strerror(e));
    return 1;
  }
  const double switch_ms = ms_since(t0);
  // 4. The file, and the hub's running config from it (the name comes back).
  if (!config::write_file_atomically(site->file, new_file, 0644, true, error)) {
    std::fprintf(stderr,
                 "wghub site rotate: the running hub switched, but %s: the hub would go back to "
                 "the old key at its next reload or start; fix the file by hand\n",
                 error.c_str());
    return 1;
  }
  if (!push_if_store(ctx, "rotate")) return 1;
  auto status_after = hub_status(ctx, running, error);
  if (status_after) reload_and_wait(ctx, status_after->pid, [](const HubStatus&) { return true; });
  std::fprintf(stderr,
               "wghub site rotate: site %s connected with its new key; switched in %.1f ms; the "
               "old key is gone; %s updated\n",
               name.c_str(), switch_ms, site->file.c_str());
  event.add("hub", "switched at the first handshake with the new key");
  return emit_audit(ctx, event) ? 0 : 1;
}

int revoke(Context& ctx, const std::string& name) {
  if (!load(ctx, "revoke", true)) return 1;
  auto site = find_site(ctx, name, "revoke");
  if (!site) return 1;
  const config::PublicKey key = site->view.peer->public_key;
  bool running = false;
  std::string error;
  auto status = hub_status(ctx, running, error);
  if (!status && running) {
    std::fprintf(stderr, "wghub site revoke: cannot reach the hub: %s; nothing changed\n",
                 error.c_str());
    return 1;
  }
  AuditEvent event("site_revoked");
  event.add("site", name)
      .add("public_key", crypto::key_to_base64(key.data()))
      .add("overlay", site->view.overlay.address().to_string())
      .add("lans", prefix_strings(site->view.lans));
  std::string hub = "hub not running";
  if (status) {
    // Cut off first: the hub drops the peer's keys and routes before it answers.
    const auto t0 = Clock::now();
    const int e = hub_set(ctx, remove_body(key), error);
    if (e != 0) {
      std::fprintf(stderr, "wghub site revoke: the hub refused the removal (%s); nothing changed\n",
                   e < 0 ? error.c_str() : std::strerror(e));
      return 1;
    }
    char buf[96];
    std::snprintf(buf, sizeof buf, "cut off in %.1f ms (pid %d)", ms_since(t0),
                  static_cast<int>(status->pid));
    hub = buf;
    std::fprintf(stderr, "wghub site revoke: site %s %s\n", name.c_str(), buf);
  }
  std::error_code ec;
  if (!std::filesystem::remove(site->file, ec)) {
    std::fprintf(stderr,
                 "wghub site revoke: cannot remove %s: %s; the site comes back at the hub's "
                 "next reload or start unless it goes\n",
                 site->file.c_str(), ec.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "wghub site revoke: removed %s\n", site->file.c_str());
  if (!push_if_store(ctx, "revoke")) return 1;
  if (status) {
    const auto took = reload_and_wait(ctx, status->pid, [](const HubStatus&) { return true; });
    if (!took) std::fprintf(stderr, "wghub site revoke: the hub did not answer after SIGHUP\n");
  } else {
    std::fprintf(stderr, "wghub site revoke: no hub is running (%s)\n", ctx.socket_path.c_str());
  }
  event.add("hub", hub);
  return emit_audit(ctx, event) ? 0 : 1;
}

}  // namespace wghub::ctl::site
