// ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce: 32 zero bits followed by
// the 64-bit little-endian message counter. Single-shot functions (libsodium)
// serve the handshake; the burst interface serves data packets, with an
// Intel IPsec-MB backend (multi-buffer AVX-512/AVX2) and a libsodium one that
// is the reference and fallback. XChaCha20-Poly1305 is for cookie replies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace wghub::crypto {

inline constexpr std::size_t kAeadTagLen = 16;
inline constexpr std::size_t kAeadKeyLen = 32;
inline constexpr std::size_t kXNonceLen = 24;
inline constexpr std::size_t kAeadNonceLen = 12;

// The 96-bit RFC 8439 nonce: `prefix` as 32 bits little-endian, then the
// 64-bit little-endian counter. WireGuard's prefix is always 0 (whitepaper
// 5.4.6); other prefixes exist only so published RFC 8439 / Wycheproof
// vectors can be run through exactly the same code paths.
void make_aead_nonce(std::uint8_t out[kAeadNonceLen], std::uint64_t counter,
                     std::uint32_t prefix = 0) noexcept;

// dst receives len bytes of ciphertext followed by the 16-byte tag.
// dst == src (in place) is allowed.
void aead_seal(std::uint8_t* dst, const std::uint8_t* src, std::size_t len, const std::uint8_t* ad,
               std::size_t ad_len, std::uint64_t counter, const std::uint8_t key[kAeadKeyLen]);

// src holds len bytes of ciphertext *including* the trailing tag; dst receives
// len - 16 bytes of plaintext. Returns false (dst unspecified) if len < 16 or
// the tag does not verify. dst == src allowed.
[[nodiscard]] bool aead_open(std::uint8_t* dst, const std::uint8_t* src, std::size_t len,
                             const std::uint8_t* ad, std::size_t ad_len, std::uint64_t counter,
                             const std::uint8_t key[kAeadKeyLen]);

// The same two operations with an arbitrary 12-byte RFC 8439 nonce. The
// WireGuard functions above are these with make_aead_nonce(counter).
void aead_seal_nonce(std::uint8_t* dst, const std::uint8_t* src, std::size_t len,
                     const std::uint8_t* ad, std::size_t ad_len,
                     const std::uint8_t nonce[kAeadNonceLen], const std::uint8_t key[kAeadKeyLen]);
[[nodiscard]] bool aead_open_nonce(std::uint8_t* dst, const std::uint8_t* src, std::size_t len,
                                   const std::uint8_t* ad, std::size_t ad_len,
                                   const std::uint8_t nonce[kAeadNonceLen],
                                   const std::uint8_t key[kAeadKeyLen]);

// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03), same layout as aead_seal /
// aead_open: ciphertext then tag; open's len includes the tag.
void xaead_seal(std::uint8_t* dst, const std::uint8_t* src, std::size_t len, const std::uint8_t* ad,
                std::size_t ad_len, const std::uint8_t nonce[kXNonceLen],
                const std::uint8_t key[kAeadKeyLen]);
[[nodiscard]] bool xaead_open(std::uint8_t* dst, const std::uint8_t* src, std::size_t len,
                              const std::uint8_t* ad, std::size_t ad_len,
                              const std::uint8_t nonce[kXNonceLen],
                              const std::uint8_t key[kAeadKeyLen]);

// One packet of a burst, always processed in place.
//  seal: data[0, len) is plaintext; on return it is ciphertext and the tag
//        is written at tag.
//  open: data[0, len) is ciphertext (tag excluded) and tag points at the
//        received tag; on return data is plaintext if ok is true. When ok is
//        false the contents of data are unspecified and must be dropped.
// The nonce is make_aead_nonce(counter, nonce_prefix); nonce_prefix stays 0
// for WireGuard. Backends never read past len bytes of data or 16 of tag.
struct AeadOp {
  const std::uint8_t* key = nullptr;  // 32 bytes
  std::uint64_t counter = 0;
  std::uint8_t* data = nullptr;
  std::uint32_t len = 0;
  std::uint8_t* tag = nullptr;  // 16 bytes
  const std::uint8_t* ad = nullptr;
  std::uint32_t ad_len = 0;
  bool ok = false;                 // set by the backend
  std::uint32_t nonce_prefix = 0;  // first 4 nonce bytes (LE); 0 in WireGuard
};

class AeadBackend {
 public:
  virtual ~AeadBackend() = default;
  virtual std::string_view name() const = 0;
  virtual void seal_burst(std::span<AeadOp> ops) = 0;
  virtual void open_burst(std::span<AeadOp> ops) = 0;
};

enum class AeadBackendKind { kSodium, kIpsecMb };

// libsodium, one packet at a time. Always available.
std::unique_ptr<AeadBackend> make_sodium_backend();

// Intel IPsec-MB code paths (init_mb_mgr_sse/avx/avx2/avx512).
enum class IpsecMbArch { kSse, kAvx, kAvx2, kAvx512 };

// "sse", "avx", "avx2", "avx512".
std::string_view to_string(IpsecMbArch arch) noexcept;
// Whether this CPU has every feature IPsec-MB needs for arch.
bool ipsecmb_arch_supported(IpsecMbArch arch) noexcept;
// Every arch this CPU supports, best last.
std::vector<IpsecMbArch> ipsecmb_supported_arches();

// Intel IPsec-MB with the best architecture this CPU supports (AVX-512, then
// AVX2, then AVX, then SSE), or the one named by the environment variable
// WGHUB_IMB_ARCH=avx512|avx2|avx|sse (for tests and benchmarks). Returns
// nullptr if the library cannot run here or WGHUB_IMB_ARCH names an arch this
// CPU lacks. One instance per thread: it owns an IMB_MGR. name() is
// "ipsec-mb/<arch>".
std::unique_ptr<AeadBackend> make_ipsecmb_backend();
// The same, for one given arch (ignores WGHUB_IMB_ARCH); nullptr if the CPU
// lacks it or the manager fails to initialise.
std::unique_ptr<AeadBackend> make_ipsecmb_backend(IpsecMbArch arch);

// The fast path's choice: IPsec-MB where it works, libsodium otherwise.
std::unique_ptr<AeadBackend> make_best_backend();

}  // namespace wghub::crypto
