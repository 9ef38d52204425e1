// One peer's WireGuard timers (whitepaper 6; the kernel's timers.c and the
// keep_key_fresh halves of send.c/receive.c) as a pure state machine: events
// in, actions out, time passed in. The control thread owns one per peer and
// drives it lazily: workers only store timestamps (dataplane/peer_state.hpp),
// and on every tick the device turns the stamps that moved into the events
// below, in time order, then calls expire(). Tests drive it in simulated time.
//
// The five timers (each armed = a deadline, disarmed = none):
//   retransmit_handshake  REKEY_TIMEOUT + jitter after an initiation went out;
//                         fires: another initiation, or after
//                         MAX_TIMER_HANDSHAKES retries, give up (purge the
//                         packets waiting for the session, and erase all key
//                         material 3 * REJECT_AFTER_TIME later unless already due)
//   send_keepalive        KEEPALIVE_TIMEOUT after data arrived with nothing sent
//                         back since (passive keepalive)
//   new_handshake         KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter after data
//                         went out with nothing authenticated heard back since
//   zero_key_material     3 * REJECT_AFTER_TIME after a session was derived:
//                         every keypair and the handshake state are erased
//   persistent_keepalive  the configured interval after any authenticated
//                         packet went either way
// Initiations are rate limited to one per REKEY_TIMEOUT (send.c); only a
// retransmission keeps the attempt count.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "control/clock.hpp"
#include "dataplane/messages.hpp"

namespace wghub::ctl {

// Retransmissions before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT (18),
// so an initiation goes out 20 times in all (the kernel logs "after 20 attempts").
inline constexpr unsigned kMaxTimerHandshakes =
    static_cast<unsigned>(dp::kRekeyAttemptTime / dp::kRekeyTimeout);
// Initiator's "last minute" handshake on receive: REJECT_AFTER_TIME -
// KEEPALIVE_TIMEOUT - REKEY_TIMEOUT (165 s) into the session.
inline constexpr std::chrono::seconds kLastMinuteHandshakeAge =
    dp::kRejectAfterTime - dp::kKeepaliveTimeout - dp::kRekeyTimeout;
inline constexpr std::chrono::seconds kZeroKeyMaterialAfter = 3 * dp::kRejectAfterTime;
// Jitter added to REKEY_TIMEOUT so peers do not retry in lock step: [0, HZ/3).
inline constexpr std::chrono::milliseconds kRekeyTimeoutJitterMax{334};

// What the timers need to know about the peer's current sending keypair.
struct SendingKey {
  bool valid = false;  // present, younger than REJECT_AFTER_TIME, counter not exhausted
  bool is_initiator = false;
  TimePoint birth{};
  std::uint64_t send_counter = 0;  // the next nonce it would use
};

enum class TimerAction : std::uint8_t {
  kSendInitiation,   // create and send a handshake initiation now
  kSendKeepalive,    // an empty data message (or a handshake when there is no session)
  kZeroKeyMaterial,  // erase every keypair and the handshake in progress
  kPurgeStaged,      // drop the packets waiting for a session
};
const char* to_string(TimerAction action);

class PeerTimers {
 public:
  using Jitter = std::function<Clock::duration()>;
  using Actions = std::vector<TimerAction>;

  // `jitter` is drawn on every REKEY_TIMEOUT arming; default: uniform in
  // [0, kRekeyTimeoutJitterMax) from the CSPRNG.
  explicit PeerTimers(Jitter jitter = {});

  // The configured persistent keepalive (0 = off). Turning it on sends one at
  // once (the kernel does so when the interval is set on a running device).
  void set_persistent_keepalive(std::chrono::seconds interval, Actions& out);
  std::chrono::seconds persistent_keepalive() const { return persistent_interval_; }

  // --- events, named as in the kernel's timers.c ---
  void data_sent(TimePoint now);      // a non-empty data message went out
  void data_received(TimePoint now);  // a non-empty data message authenticated
  void any_authenticated_packet_sent(TimePoint now);
  void any_authenticated_packet_received(TimePoint now);
  void any_authenticated_packet_traversal(TimePoint now);  // either direction
  void handshake_complete(TimePoint now);  // initiator: response; responder: first data
  // We answered an initiation: also counts against the initiation rate
  // limit, so a responder does not start a competing handshake while the
  // initiator's first data is on its way (send.c sets last_sent_handshake).
  void handshake_response_sent(TimePoint now);
  void session_derived(TimePoint now);  // a keypair was derived (either role)

  // --- send-side policy ---
  // Packets wait and there is no valid keypair (send.c
  // wg_packet_send_staged_packets): start a handshake, rate limited.
  void need_handshake(TimePoint now, Actions& out);
  // A packet was sent on `key` (send.c keep_key_fresh): rekey after
  // REKEY_AFTER_MESSAGES, or as initiator after REKEY_AFTER_TIME.
  void keep_key_fresh_sent(const SendingKey& key, TimePoint now, Actions& out);
  // A packet arrived while `key` is current (receive.c keep_key_fresh): the
  // initiator's one "last minute" handshake 165 s into the session.
  void keep_key_fresh_received(const SendingKey& key, TimePoint now, Actions& out);

  // Fires every timer due at `now`, earliest first.
  void expire(TimePoint now, Actions& out);
  // Peer removed: every timer off.
  void stop();

  std::optional<TimePoint> next_deadline() const;
  unsigned handshake_attempts() const { return handshake_attempts_; }
  bool retransmit_armed() const { return retransmit_handshake_.has_value(); }
  bool send_keepalive_armed() const { return send_keepalive_.has_value(); }
  bool new_handshake_armed() const { return new_handshake_.has_value(); }
  bool zero_key_material_armed() const { return zero_key_material_.has_value(); }
  bool persistent_keepalive_armed() const { return persistent_keepalive_.has_value(); }

 private:
  void send_initiation(TimePoint now, bool is_retry, Actions& out);
  Clock::duration rekey_timeout_with_jitter();

  Jitter jitter_;
  std::chrono::seconds persistent_interval_{0};
  std::optional<TimePoint> retransmit_handshake_;
  std::optional<TimePoint> send_keepalive_;
  std::optional<TimePoint> new_handshake_;
  std::optional<TimePoint> zero_key_material_;
  std::optional<TimePoint> persistent_keepalive_;
  std::optional<TimePoint> last_sent_handshake_;
  unsigned handshake_attempts_ = 0;
  bool need_another_keepalive_ = false;
  bool sent_lastminute_handshake_ = false;
};

}  // namespace wghub::ctl
