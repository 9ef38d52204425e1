// The device's keypair rotation, as the kernel's noise.c add_new_keypair /
// received_with_keypair: a new keypair from a handshake becomes `current`
// (initiator) or `next` until its first data packet (responder); the
// retired ones leave the workers' view first and are freed after an RCU
// grace period.
#include <rte_cycles.h>

#include <cstring>

#include "control/audit.hpp"
#include "control/device.hpp"
#include "control/log.hpp"
#include "crypto/base64.hpp"

namespace wghub::ctl {

void Device::retire(dp::Keypair*& kp) {
  if (kp == nullptr) return;
  dp::Keypair* released = dp_.keypairs->release_index(kp->local_index);
  (void)released;  // the same keypair; lookups by its index miss from now on
  deferred_.retire(kp, dp::destroy_keypair);
  kp = nullptr;
}

void Device::publish_current(Peer& p) {
  dp_.peers->at(p.slot).current.store(p.current, std::memory_order_release);
}

std::optional<std::uint32_t> Device::reserve_index() {
  return dp_.keypairs->allocate_index();
}

void Device::release_index(std::uint32_t index) {
  if (dp::Keypair* kp = dp_.keypairs->release_index(index))
    deferred_.retire(kp, dp::destroy_keypair);
}

void Device::install_keypair(std::uint32_t peer_slot, Keypair&& keys) {
  auto it = peers_.find(peer_slot);
  dp::Keypair* kp = dp::make_keypair();
  if (it == peers_.end() || kp == nullptr) {
    release_index(keys.local_index);
    dp::destroy_keypair(kp);
    return;
  }
  Peer& p = it->second;
  wake(peer_slot);
  const TimePoint now = Clock::now();
  std::memcpy(kp->send_key, keys.sending_key.data(), sizeof kp->send_key);
  std::memcpy(kp->recv_key, keys.receiving_key.data(), sizeof kp->recv_key);
  kp->local_index = keys.local_index;
  kp->remote_index = keys.remote_index;
  kp->peer = peer_slot;
  kp->is_initiator = keys.is_initiator;
  kp->birth_tsc = rte_get_tsc_cycles();
  dp_.keypairs->publish(keys.local_index, kp);

  // Workers must stop seeing a keypair (publish) before it is retired: the
  // grace period only covers readers that found it before the retirement.
  if (kp->is_initiator) {
    // The initiator may send at once; an unconfirmed `next` is superseded.
    dp::Keypair* old_previous = p.previous;
    dp::Keypair* old_current = p.current;
    if (p.next != nullptr) {
      p.previous = p.next;
      p.next = nullptr;
    } else {
      p.previous = old_current;
      old_current = nullptr;
    }
    p.current = kp;
    publish_current(p);
    retire(old_previous);
    retire(old_current);
    p.timers.session_derived(now);
    p.timers.handshake_complete(now);
    send_staged(p, rte_get_tsc_cycles());
  } else {
    // The responder waits for the initiator's first data packet.
    retire(p.next);
    p.next = kp;
    retire(p.previous);
    p.timers.session_derived(now);
  }
  p.last_handshake = std::chrono::system_clock::now();
  ++p.handshakes;
  const std::string endpoint = format_endpoint(dp_.peers->at(peer_slot).endpoint.load());
  const std::string key = crypto::key_to_base64(p.public_key.data());
  const char* role = kp->is_initiator ? "initiator" : "responder";
  log_info("handshake completed with peer %s (%.8s) as %s, endpoint %s", p.name.c_str(),
           key.c_str(), role, endpoint.c_str());
  AuditEvent("handshake_completed")
      .add("peer", p.name)
      .add("public_key", key)
      .add("role", role)
      .add("endpoint", endpoint)
      .emit();
}

}  // namespace wghub::ctl
