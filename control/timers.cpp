// The kernel's timers.c, event by event; see timers.hpp for the timers.
#include "control/timers.hpp"

#include <array>

#include "crypto/random.hpp"

namespace wghub::ctl {

const char* to_string(TimerAction action) {
  switch (action) {
    case TimerAction::kSendInitiation:
      return "send_initiation";
    case TimerAction::kSendKeepalive:
      return "send_keepalive";
    case TimerAction::kZeroKeyMaterial:
      return "zero_key_material";
    case TimerAction::kPurgeStaged:
      return "purge_staged";
  }
  return "?";
}

namespace {

Clock::duration random_jitter() {
  const auto max_us = std::chrono::duration_cast<std::chrono::microseconds>(kRekeyTimeoutJitterMax);
  return std::chrono::microseconds(crypto::random_value<std::uint32_t>() %
                                   static_cast<std::uint32_t>(max_us.count()));
}

}  // namespace

PeerTimers::PeerTimers(Jitter jitter)
    : jitter_(jitter ? std::move(jitter) : Jitter(random_jitter)) {}

Clock::duration PeerTimers::rekey_timeout_with_jitter() {
  return std::chrono::duration_cast<Clock::duration>(dp::kRekeyTimeout) + jitter_();
}

void PeerTimers::set_persistent_keepalive(std::chrono::seconds interval, Actions& out) {
  const bool was_off = persistent_interval_.count() == 0;
  persistent_interval_ = interval;
  if (interval.count() == 0) {
    persistent_keepalive_.reset();
  } else if (was_off) {
    out.push_back(TimerAction::kSendKeepalive);
  }
}

// Arms the keepalive we owe the peer unless one is already due; data arriving
// meanwhile means one more is owed after it (timers.c: need_another_keepalive).
void PeerTimers::data_received(TimePoint now) {
  if (!send_keepalive_)
    send_keepalive_ = now + dp::kKeepaliveTimeout;
  else
    need_another_keepalive_ = true;
}

// Data out with no answer within KEEPALIVE_TIMEOUT + REKEY_TIMEOUT means the
// session may be dead on the other side: start a new handshake then.
void PeerTimers::data_sent(TimePoint now) {
  if (!new_handshake_) new_handshake_ = now + dp::kKeepaliveTimeout + rekey_timeout_with_jitter();
}

// Anything we send carries the acknowledgement a keepalive would.
void PeerTimers::any_authenticated_packet_sent(TimePoint) {
  send_keepalive_.reset();
}

// The peer is alive: no need to re-handshake for lack of an answer.
void PeerTimers::any_authenticated_packet_received(TimePoint) {
  new_handshake_.reset();
}

void PeerTimers::any_authenticated_packet_traversal(TimePoint now) {
  if (persistent_interval_.count() != 0) persistent_keepalive_ = now + persistent_interval_;
}

void PeerTimers::handshake_complete(TimePoint) {
  retransmit_handshake_.reset();
  handshake_attempts_ = 0;
  sent_lastminute_handshake_ = false;
}

void PeerTimers::handshake_response_sent(TimePoint now) {
  last_sent_handshake_ = now;
  any_authenticated_packet_traversal(now);
  any_authenticated_packet_sent(now);
}

void PeerTimers::session_derived(TimePoint now) {
  zero_key_material_ = now + kZeroKeyMaterialAfter;
}

// send.c wg_packet_send_handshake_initiation: at most one initiation per
// REKEY_TIMEOUT; a fresh request (not a retransmission) restarts the count.
void PeerTimers::send_initiation(TimePoint now, bool is_retry, Actions& out) {
  if (!is_retry) handshake_attempts_ = 0;
  if (last_sent_handshake_ && now < *last_sent_handshake_ + dp::kRekeyTimeout) return;
  last_sent_handshake_ = now;
  out.push_back(TimerAction::kSendInitiation);
  any_authenticated_packet_traversal(now);
  any_authenticated_packet_sent(now);
  retransmit_handshake_ = now + rekey_timeout_with_jitter();  // timers_handshake_initiated
}

void PeerTimers::need_handshake(TimePoint now, Actions& out) {
  send_initiation(now, false, out);
}

void PeerTimers::keep_key_fresh_sent(const SendingKey& key, TimePoint now, Actions& out) {
  if (!key.valid) return;
  if (key.send_counter > dp::kRekeyAfterMessages ||
      (key.is_initiator && now >= key.birth + dp::kRekeyAfterTime))
    send_initiation(now, false, out);
}

void PeerTimers::keep_key_fresh_received(const SendingKey& key, TimePoint now, Actions& out) {
  if (!key.valid || !key.is_initiator || sent_lastminute_handshake_) return;
  if (now >= key.birth + kLastMinuteHandshakeAge) {
    sent_lastminute_handshake_ = true;
    send_initiation(now, false, out);
  }
}

void PeerTimers::stop() {
  retransmit_handshake_.reset();
  send_keepalive_.reset();
  new_handshake_.reset();
  zero_key_material_.reset();
  persistent_keepalive_.reset();
  need_another_keepalive_ = false;
}

std::optional<TimePoint> PeerTimers::next_deadline() const {
  std::optional<TimePoint> next;
  for (const auto* t : {&retransmit_handshake_, &send_keepalive_, &new_handshake_,
                        &zero_key_material_, &persistent_keepalive_})
    if (*t && (!next || **t < *next)) next = **t;
  return next;
}

void PeerTimers::expire(TimePoint now, Actions& out) {
  // Each firing may re-arm timers, but only later than `now` except through
  // a zero persistent interval, which cannot be set; the bound is a guard.
  for (int guard = 0; guard < 16; ++guard) {
    std::optional<TimePoint>* due = nullptr;
    for (auto* t : {&retransmit_handshake_, &send_keepalive_, &new_handshake_, &zero_key_material_,
                    &persistent_keepalive_})
      if (*t && **t <= now && (due == nullptr || **t < **due)) due = t;
    if (due == nullptr) return;
    due->reset();

    if (due == &retransmit_handshake_) {
      if (handshake_attempts_ > kMaxTimerHandshakes) {
        // Give up: the waiting packets go, and the keys follow unless the
        // peer comes back (timers.c wg_expired_retransmit_handshake).
        send_keepalive_.reset();
        out.push_back(TimerAction::kPurgeStaged);
        if (!zero_key_material_) zero_key_material_ = now + kZeroKeyMaterialAfter;
      } else {
        ++handshake_attempts_;
        send_initiation(now, true, out);
      }
    } else if (due == &send_keepalive_) {
      out.push_back(TimerAction::kSendKeepalive);
      if (need_another_keepalive_) {
        need_another_keepalive_ = false;
        send_keepalive_ = now + dp::kKeepaliveTimeout;
      }
    } else if (due == &new_handshake_) {
      send_initiation(now, false, out);
    } else if (due == &zero_key_material_) {
      out.push_back(TimerAction::kZeroKeyMaterial);
    } else if (due == &persistent_keepalive_) {
      if (persistent_interval_.count() != 0) out.push_back(TimerAction::kSendKeepalive);
    }
  }
}

}  // namespace wghub::ctl
