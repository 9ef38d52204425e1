#include "control/responder_directory.hpp"

#include "crypto/x25519.hpp"

namespace wghub::ctl {

namespace {

void assign_psk(crypto::Secret<32>& to, const crypto::Secret<32>* psk) {
  if (psk != nullptr) {
    to.assign(psk->span());
  } else {
    to.clear();
  }
}

}  // namespace

void ResponderDirectory::set(const PublicKey& key, std::uint32_t slot, std::uint64_t generation,
                             const crypto::Secret<32>* psk) {
  auto entry = std::make_unique<Entry>();
  entry->slot = slot;
  entry->generation = generation;
  assign_psk(entry->psk, psk);
  std::unique_lock lock(mu_);
  entries_[key] = std::move(entry);
}

void ResponderDirectory::set_preshared_key(const PublicKey& key, const crypto::Secret<32>* psk) {
  std::shared_lock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  std::lock_guard entry_lock(it->second->mu);
  assign_psk(it->second->psk, psk);
}

void ResponderDirectory::erase(const PublicKey& key) {
  std::unique_ptr<Entry> gone;  // its secrets are wiped outside the lock
  std::unique_lock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  gone = std::move(it->second);
  entries_.erase(it);
}

std::optional<std::uint32_t> ResponderDirectory::slot_of(const PublicKey& key) const {
  std::shared_lock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second->slot;
}

void ResponderDirectory::reserve(std::size_t n) {
  std::unique_lock lock(mu_);
  entries_.reserve(n);
}

std::size_t ResponderDirectory::size() const {
  std::shared_lock lock(mu_);
  return entries_.size();
}

ResponderDirectory::Lookup ResponderDirectory::find(const PublicKey& key, Found& out) const {
  std::shared_lock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return Lookup::kUnknown;
  Entry& e = *it->second;
  out.slot = e.slot;
  out.generation = e.generation;
  std::lock_guard entry_lock(e.mu);
  if (e.state == Entry::Static::kNotComputed) {
    // An all-zero result (a low-order peer key) can never complete a handshake.
    e.state = crypto::x25519(e.ss.span(), local_.private_key.span(), key)
                  ? Entry::Static::kValid
                  : Entry::Static::kLowOrder;
    if (e.state != Entry::Static::kValid) e.ss.clear();
  }
  if (e.state != Entry::Static::kValid) return Lookup::kLowOrder;
  out.ss.assign(e.ss.span());
  out.psk.assign(e.psk.span());
  return Lookup::kFound;
}

}  // namespace wghub::ctl
