// A transport keypair as the workers use it (whitepaper 5.4.6; the kernel's
// struct noise_keypair): the two ChaCha20-Poly1305 keys of one session, the
// receiver indices of both sides, the send counter and the replay window.
//
// Lifecycle. The control thread derives the keys (noise), fills every
// immutable field with make_keypair(), publishes the pointer in the
// KeypairTable (receive side, by local_index) and in PeerState::current (send
// side). To retire it, control unpublishes both and hands the pointer to
// DeferredFree with destroy_keypair, so the keys are wiped and the memory freed
// only after every worker has passed a quiescent state.
//
// Concurrency, field by field (cache lines split by who writes):
//   line 0-1  keys, indices, peer, birth: written by control before publication
//             (the table's store-release publishes them), read-only afterwards.
//   line 2    send_counter: any worker sending to the peer (fetch_add, relaxed:
//             only uniqueness matters, as the kernel's atomic64_inc_return).
//   line 3+   rx_lock guards `window`: workers receiving on this keypair. One
//             peer's flows normally land on one queue, so contention is rare;
//             the kernel holds a spinlock around counter_validate the same way.
//             received_data: set by a worker, watched by control.
#pragma once

#include <rte_pause.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "crypto/secret.hpp"
#include "dataplane/messages.hpp"
#include "dataplane/replay_window.hpp"

namespace wghub::dp {

// A test-and-test-and-set spinlock on std::atomic. Same cost as rte_spinlock_t,
// but rte_spinlock on x86 is inline asm (xchg), invisible to ThreadSanitizer,
// which would then report every access it guards as a race.
class RxSpinLock {
 public:
  void lock() {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      while (locked_.load(std::memory_order_relaxed)) rte_pause();
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

struct alignas(64) Keypair {
  // --- immutable after publication ---
  uint8_t send_key[32] = {};  // wiped by destroy_keypair
  uint8_t recv_key[32] = {};
  uint32_t local_index = 0;   // receiver index in data messages sent TO us (our index)
  uint32_t remote_index = 0;  // receiver index we put in data messages we send
  uint32_t peer = 0;          // peer slot (PeerTable)
  bool is_initiator = false;
  uint64_t birth_tsc = 0;  // rte_get_tsc_cycles() at creation, for REJECT_AFTER_TIME

  // --- written by workers ---
  alignas(64) std::atomic<uint64_t> send_counter{0};

  alignas(64) RxSpinLock rx_lock;
  // Responder's keypair is confirmed by the first data packet received on it
  // (whitepaper 5.4.5); control rotates it to current when it sees this.
  std::atomic<bool> received_data{false};
  ReplayWindow window;  // guarded by rx_lock

  // Worker, sending: the counter (nonce) for the next packet. False when the
  // keypair is exhausted (REJECT_AFTER_MESSAGES): do not send on it.
  bool take_send_counter(uint64_t& counter) {
    counter = send_counter.fetch_add(1, std::memory_order_relaxed);
    return counter < kRejectAfterMessages;
  }

  // Worker, receiving, after the packet authenticated (whitepaper 5.4.6): true
  // if the counter is fresh, and records it.
  bool accept_counter(uint64_t counter) {
    rx_lock.lock();
    const bool ok = window.check_and_update(counter);
    rx_lock.unlock();
    return ok;
  }

  // Worker: note that data arrived; true the first time. Stores only once so
  // the line stays shared.
  bool mark_received_data() {
    if (received_data.load(std::memory_order_relaxed)) return false;
    received_data.store(true, std::memory_order_relaxed);
    return true;
  }

  // REJECT_AFTER_TIME (whitepaper 6.1), in TSC cycles computed once by the caller.
  bool expired(uint64_t now_tsc, uint64_t reject_after_cycles) const {
    return now_tsc - birth_tsc >= reject_after_cycles;
  }
};

namespace detail {

// Keypairs' memory, keys wiped, kept for the next make_keypair on this
// thread (the control thread makes and destroys them): a handshake's
// aligned allocation otherwise went through malloc's memalign path and
// often a fresh, locked page (~3 % of a handshake's cycles). At most
// kMax blocks; freed when the thread ends.
struct SpareKeypairs {
  static constexpr std::size_t kMax = 4096;
  std::vector<void*> blocks;
  ~SpareKeypairs() {
    for (void* b : blocks) ::operator delete (b, std::align_val_t{alignof(Keypair)});
  }
};
inline thread_local SpareKeypairs spare_keypairs;

}  // namespace detail

// Control: a zeroed keypair with a fresh window. Fill the immutable fields
// before publishing it. nullptr when memory is short.
inline Keypair* make_keypair() {
  auto& spare = detail::spare_keypairs.blocks;
  if (!spare.empty()) {
    void* block = spare.back();
    spare.pop_back();
    return new (block) Keypair();
  }
  return new (std::nothrow) Keypair();
}

// Control, after a grace period (DeferredFree): wipes both keys and frees
// (or keeps the memory for the next make_keypair).
inline void destroy_keypair(Keypair* kp) {
  if (kp == nullptr) return;
  crypto::wipe(kp->send_key, sizeof kp->send_key);
  crypto::wipe(kp->recv_key, sizeof kp->recv_key);
  auto& spare = detail::spare_keypairs.blocks;
  if (spare.capacity() == 0) {
    try {
      spare.reserve(detail::SpareKeypairs::kMax);  // once: push_back below never allocates
    } catch (const std::bad_alloc&) {
    }
  }
  if (spare.size() < spare.capacity()) {
    kp->~Keypair();
    spare.push_back(kp);
    return;
  }
  delete kp;
}

}  // namespace wghub::dp
