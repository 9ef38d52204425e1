// Packets waiting for a session (the kernel's send.c staged packets): a
// worker that finds no usable keypair for a peer hands the packet up; it
// waits in the peer's StagedQueue (at most kMaxStagedPackets, and
// kStagedBudget over all peers: they come from the pool that refills the rx
// rings) while a handshake is asked for, and leaves sealed on the control
// thread's queue once a keypair can carry it.
#include <rte_mbuf.h>

#include "control/device.hpp"
#include "crypto/aead.hpp"
#include "dataplane/data_message.hpp"

namespace wghub::ctl {

void Device::stage(rte_mbuf* m, std::uint32_t slot, std::uint32_t generation, TimePoint now,
                   std::uint64_t now_tsc) {
  auto it = peers_.find(slot);
  // Removed meanwhile, or removed and the slot given to another peer: its
  // traffic must not reach that one (issue 13.4).
  if (it == peers_.end() ||
      dp_.peers->at(slot).generation.load(std::memory_order_relaxed) != generation) {
    ++staged_counters_.purged;
    rte_pktmbuf_free(m);
    return;
  }
  Peer& p = it->second;
  wake(slot);
  if (p.staged.size() >= kMaxStagedPackets) {  // the peer's own oldest goes
    rte_pktmbuf_free(p.staged.front());
    p.staged.pop_front();
    --staged_counters_.waiting;
    ++staged_counters_.overflow;
  }
  if (staged_counters_.waiting >= kStagedBudget) {
    ++staged_counters_.over_budget;
    rte_pktmbuf_free(m);
  } else {
    ++staged_counters_.queued;
    ++staged_counters_.waiting;
    p.staged.push_back(m);
  }
  PeerTimers::Actions actions;
  if (has_session(p, now_tsc))
    send_staged(p, now_tsc);  // the session came up after the worker looked
  else
    p.timers.need_handshake(now, actions);
  run_actions(*engine_, p, actions, now, now_tsc);
}

void Device::send_staged(Peer& p, std::uint64_t now_tsc) {
  while (!p.staged.empty() && has_session(p, now_tsc)) {
    rte_mbuf* m = p.staged.front();
    p.staged.pop_front();
    --staged_counters_.waiting;
    if (send_data(p, m, now_tsc)) ++staged_counters_.sent;
  }
}

void Device::purge_staged(Peer& p) {
  staged_counters_.purged += p.staged.size();
  staged_counters_.waiting -= p.staged.size();
  p.staged.for_each([](rte_mbuf* m) { rte_pktmbuf_free(m); });
  p.staged.clear();
}

// One inner packet (or an empty one: a keepalive) sealed on the current
// keypair and sent from the control thread's queue. Consumes m.
bool Device::send_data(Peer& p, rte_mbuf* m, std::uint64_t now_tsc) {
  dp::PeerState& st = dp_.peers->at(p.slot);
  dp::Keypair* kp = p.current;
  const dp::Endpoint ep = st.endpoint.load();
  std::uint64_t counter = 0;
  crypto::AeadOp op;
  if (kp == nullptr || ep == 0 || !kp->take_send_counter(counter) ||
      dp::frame_data_message(m, *kp, counter, dp::kTunnelMtu, op) != dp::DropReason::kNone) {
    rte_pktmbuf_free(m);
    return false;
  }
  const bool keepalive = op.len == 0;
  crypto::aead_seal(op.data, op.data, op.len, nullptr, 0, counter, kp->send_key);
  const std::uint32_t bytes = m->pkt_len;
  tx_.send_outer(m, ep, now_tsc);
  dp::touch(st.last_tx_tsc, now_tsc);
  if (!keepalive) dp::touch(st.last_data_tx_tsc, now_tsc);
  ++p.control_counters.tx_packets;
  p.control_counters.tx_bytes += bytes;
  return true;
}

}  // namespace wghub::ctl
