// KeypairTable control-side operations; see keypair_table.hpp.
#include "dataplane/keypair_table.hpp"

#include <algorithm>

#include "crypto/random.hpp"

namespace wghub::dp {

namespace {

uint32_t secure_random_u32() {
  return crypto::fast_random_value<uint32_t>();
}

}  // namespace

KeypairTable::KeypairTable(unsigned log2_capacity, RandomFn random)
    : log2_capacity_(std::clamp(log2_capacity, kMinLog2Capacity, kMaxLog2Capacity)),
      mask_((uint32_t{1} << log2_capacity_) - 1),
      random_(random != nullptr ? random : secure_random_u32),
      slots_(new std::atomic<Keypair*>[mask_ + 1]),
      index_of_slot_(mask_ + 1, 0) {
  for (uint32_t s = 0; s <= mask_; ++s) slots_[s].store(nullptr, std::memory_order_relaxed);
  // Stack: slot 0 is handed out first.
  free_.reserve(mask_ + 1);
  for (uint32_t s = mask_ + 1; s-- > 0;) free_.push_back(s);
}

std::optional<uint32_t> KeypairTable::allocate_index() {
  if (free_.empty()) return std::nullopt;
  const uint32_t slot = free_.back();
  // 0 means "no index"; only slot 0 with all-zero high bits makes it. A
  // broken RNG that keeps drawing 0 must not hang the control thread.
  uint32_t index = 0;
  for (int attempt = 0; attempt < 64 && index == 0; ++attempt)
    index = (random_() << log2_capacity_) | slot;
  if (index == 0) index = (uint32_t{1} << log2_capacity_) | slot;
  free_.pop_back();
  index_of_slot_[slot] = index;
  return index;
}

bool KeypairTable::is_reserved(uint32_t index) const {
  return index != 0 && index_of_slot_[index & mask_] == index;
}

bool KeypairTable::publish(uint32_t index, Keypair* kp) {
  if (kp == nullptr || kp->local_index != index || !is_reserved(index)) return false;
  auto& slot = slots_[index & mask_];
  if (slot.load(std::memory_order_relaxed) != nullptr) return false;
  slot.store(kp, std::memory_order_release);  // publishes the keypair's fields
  return true;
}

Keypair* KeypairTable::unpublish(uint32_t index) {
  if (!is_reserved(index)) return nullptr;
  return slots_[index & mask_].exchange(nullptr, std::memory_order_relaxed);
}

Keypair* KeypairTable::release_index(uint32_t index) {
  if (!is_reserved(index)) return nullptr;
  Keypair* kp = unpublish(index);
  const uint32_t slot = index & mask_;
  index_of_slot_[slot] = 0;
  free_.push_back(slot);
  return kp;
}

}  // namespace wghub::dp
