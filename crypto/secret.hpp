// Secret<N>: fixed-size key material that cannot be copied by accident and is
// wiped when it goes out of scope. Every private key, chaining key, handshake
// hash that feeds a key, and transport key in wghub lives in one of these.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace wghub::crypto {

// Overwrites len bytes at p in a way the compiler may not elide.
void wipe(void* p, std::size_t len) noexcept;

// Constant-time equality of two equal-length buffers.
bool equal_ct(const std::uint8_t* a, const std::uint8_t* b, std::size_t len) noexcept;

// The same for two 16-byte values (Poly1305 tags) inline, for the data path:
// every byte is compared, no branch depends on where they differ.
inline bool equal_ct16(const std::uint8_t* a, const std::uint8_t* b) noexcept {
  std::uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a, 8);
  std::memcpy(&a1, a + 8, 8);
  std::memcpy(&b0, b, 8);
  std::memcpy(&b1, b + 8, 8);
  return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

template <std::size_t N>
class Secret {
 public:
  Secret() noexcept { bytes_.fill(0); }
  explicit Secret(std::span<const std::uint8_t, N> from) noexcept { assign(from); }
  ~Secret() { wipe(bytes_.data(), N); }

  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  // Moving leaves the source wiped, so exactly one copy of the bytes survives.
  Secret(Secret&& other) noexcept : bytes_(other.bytes_) { other.clear(); }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      bytes_ = other.bytes_;
      other.clear();
    }
    return *this;
  }

  void assign(std::span<const std::uint8_t, N> from) noexcept {
    for (std::size_t i = 0; i < N; ++i) bytes_[i] = from[i];
  }
  void clear() noexcept { wipe(bytes_.data(), N); }
  bool is_zero() const noexcept {
    std::uint8_t acc = 0;
    for (auto b : bytes_) acc |= b;
    return acc == 0;
  }

  std::uint8_t* data() noexcept { return bytes_.data(); }
  const std::uint8_t* data() const noexcept { return bytes_.data(); }
  static constexpr std::size_t size() noexcept { return N; }
  std::span<std::uint8_t, N> span() noexcept { return std::span<std::uint8_t, N>(bytes_); }
  std::span<const std::uint8_t, N> span() const noexcept {
    return std::span<const std::uint8_t, N>(bytes_);
  }

 private:
  std::array<std::uint8_t, N> bytes_;
};

inline constexpr std::size_t kKeyLen = 32;
using Key = Secret<kKeyLen>;

// Locks the process's memory where permitted and marks it non-dumpable, so key
// material never reaches swap or a core file. Pages are locked as they are
// first touched (MCL_ONFAULT), so making a large mapping costs nothing up
// front and never holds the address space's lock while it is filled. Returns
// false (and leaves things as they were) where the kernel refuses.
bool harden_process_memory() noexcept;

}  // namespace wghub::crypto
