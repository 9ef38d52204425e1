// The control thread's status line (every --status-interval) and the
// SIGUSR1 dump: what the workers counted, the live sessions as the timer
// passes found them, and the first kDumpPeers peers.
#include <rte_cycles.h>
#include <rte_ethdev.h>

#include <chrono>
#include <cinttypes>
#include <string>
#include <vector>

#include "control/control_thread.hpp"
#include "control/log.hpp"
#include "crypto/base64.hpp"

namespace wghub::ctl {

namespace {

// Peers the SIGUSR1 dump lists: it is printed in one poll.
constexpr std::size_t kDumpPeers = 1000;

}  // namespace

void ControlThread::print_status(bool full) const {
  std::vector<const dp::LcoreStats*> lcores;
  for (const auto& s : dp_.worker_stats) lcores.push_back(s.get());
  const dp::LcoreStats sum = dp::snapshot_sum(lcores);
  const std::uint64_t now_tsc = rte_get_tsc_cycles();
  // As of the last timer pass (~0.1 s ago; at 2^20 peers a walk of every
  // peer here was one long poll each status interval).
  const std::size_t live = device_.live_sessions();
  std::string drops;
  std::uint64_t dropped = 0;
  for (std::size_t r = 1; r < dp::kDropReasonCount; ++r) {
    if (sum.drops[r] == 0) continue;
    dropped += sum.drops[r];
    drops += " " + std::string(dp::kDropReasonNames[r]) + "=" + std::to_string(sum.drops[r]);
  }
  // Frames the drivers (or, for net_af_packet, the kernel) dropped before a
  // worker saw them (rx ring full).
  for (const dp::PortContext* port : {&dp_.wan, &dp_.lan}) {
    rte_eth_stats st{};
    std::uint64_t missed = port->socket_drops.total();
    if (port->port.started && rte_eth_stats_get(port->port.id, &st) == 0) missed += st.imissed;
    if (missed != 0) {
      dropped += missed;
      drops += " " + port->port.role + "_rx_missed=" + std::to_string(missed);
    }
  }
  const HandshakeCounters& hs = engine_.counters();
  log_info("status: peers %zu/%zu live | wan rx %" PRIu64 " tx %" PRIu64 " | lan rx %" PRIu64
           " tx %" PRIu64 " | decrypted %" PRIu64 " encrypted %" PRIu64 " | handshakes %" PRIu64
           " cookies %" PRIu64 "%s | dropped %" PRIu64 "%s",
           live, device_.peers().size(), sum.rx_packets[dp::kStatsPortWan],
           sum.tx_packets[dp::kStatsPortWan] + tx_.counters().tx_packets[dp::kStatsPortWan],
           sum.rx_packets[dp::kStatsPortLan],
           sum.tx_packets[dp::kStatsPortLan] + tx_.counters().tx_packets[dp::kStatsPortLan],
           sum.decrypted_packets, sum.encrypted_packets, hs.sessions_derived,
           hs.cookie_replies_sent + sum.cookie_replies_sent + counters_.cookie_replies_sent,
           load_.active() ? " (under load)" : "", dropped, drops.c_str());
  if (!full) return;
  std::vector<const dp::PeerCounterBlock*> blocks;
  for (const auto& b : dp_.worker_peer_counters) blocks.push_back(b.get());
  // The dump is printed in one poll: the first kDumpPeers peers (by slot),
  // then a count. At 2^20 peers a line each was seconds of a stalled control
  // thread; wg(8) lists every peer, a slice per poll.
  std::size_t printed = 0;
  for (const auto& [slot, p] : device_.peers()) {
    if (printed++ == kDumpPeers) {
      log_info("  ... and %zu more peer(s): wg show lists them all",
               device_.peers().size() - kDumpPeers);
      break;
    }
    const dp::PeerCounters pc = dp::sum_peer_counters(blocks, slot);
    std::string handshake = "never";
    if (p.last_handshake) {
      const auto ago = std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now() - *p.last_handshake);
      handshake = std::to_string(ago.count()) + " s ago";
    }
    log_info("  peer %s key %s endpoint %s handshake %s session %s rx %" PRIu64 " B tx %" PRIu64
             " B",
             p.name.c_str(), crypto::key_to_base64(p.public_key.data()).c_str(),
             format_endpoint(dp_.peers->at(slot).endpoint.load()).c_str(), handshake.c_str(),
             device_.has_session(p, now_tsc) ? "yes" : "no", pc.rx_bytes, pc.tx_bytes);
  }
  const ControlTxCounters& tc = tx_.counters();
  log_info("  control: arp requests %" PRIu64 ", neighbor solicitations %" PRIu64
           ", frames held %zu (sent %" PRIu64 ", dropped %" PRIu64 "), arp answered %" PRIu64
           ", ndp answered %" PRIu64 " (bad %" PRIu64 "), icmp answered %" PRIu64,
           tc.arp_requests, tc.neighbor_solicits, tx_.held_frames(), tc.held_sent, tc.held_dropped,
           counters_.arp_answered, counters_.ndp_answered, counters_.ndp_bad,
           counters_.icmp_answered);
}

}  // namespace wghub::ctl
