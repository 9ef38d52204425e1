// The peers as a responder needs them, by static public key, readable from
// every handshake thread (handshake_threads.hpp) while the control thread
// adds and removes peers: the slot and generation (so the control thread can
// tell that the peer it finishes the handshake for is the one the thread
// found), the static-static DH and the preshared key.
//
// The static-static DH is computed at the peer's first handshake, not when
// the peer is added: a hub with 10^5 peers would otherwise spend 10^5 X25519
// (about 4 s here) before it starts or while it reloads. PeerHandshake keeps
// its own for the handshakes the hub initiates.
//
// Locking: one shared_mutex over the map (writers: the control thread adding
// or removing peers) and a small mutex per entry over its secrets (the first
// handshake of a peer computes ss under it). Readers copy what they need out.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

#include "control/noise.hpp"
#include "crypto/key_hash.hpp"
#include "crypto/secret.hpp"

namespace wghub::ctl {

using PublicKeyHash = crypto::PublicKeyHash;  // crypto/key_hash.hpp

class ResponderDirectory {
 public:
  explicit ResponderDirectory(const LocalIdentity& local) : local_(local) {}

  // What a handshake thread needs of one peer.
  struct Found {
    std::uint32_t slot = 0;
    std::uint64_t generation = 0;
    crypto::Secret<32> ss;   // DH(local static, peer static)
    crypto::Secret<32> psk;  // all zero when none
  };
  enum class Lookup : std::uint8_t { kFound, kUnknown, kLowOrder };

  // Control thread. `psk` nullptr = none.
  void set(const PublicKey& key, std::uint32_t slot, std::uint64_t generation,
           const crypto::Secret<32>* psk);
  void set_preshared_key(const PublicKey& key, const crypto::Secret<32>* psk);
  void erase(const PublicKey& key);
  std::optional<std::uint32_t> slot_of(const PublicKey& key) const;
  std::size_t size() const;
  // Room for n keys without rehashing (the start's bulk add).
  void reserve(std::size_t n);

  // Any thread: copies the peer's secrets out, computing ss on first use.
  Lookup find(const PublicKey& key, Found& out) const;

 private:
  struct Entry {
    std::uint32_t slot = 0;
    std::uint64_t generation = 0;
    std::mutex mu;  // over the secrets below
    enum class Static : std::uint8_t {
      kNotComputed,
      kValid,
      kLowOrder
    } state = Static::kNotComputed;
    crypto::Secret<32> ss;
    crypto::Secret<32> psk;
  };

  const LocalIdentity& local_;
  mutable std::shared_mutex mu_;
  std::unordered_map<PublicKey, std::unique_ptr<Entry>, PublicKeyHash> entries_;
};

}  // namespace wghub::ctl
