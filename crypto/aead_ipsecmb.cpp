// The batch fast path: ChaCha20-Poly1305 (RFC 8439) over Intel IPsec-MB's
// multi-buffer job manager. A burst is submitted as a whole and then flushed,
// so the AVX-512/AVX2 code runs many packets side by side in its lanes. Jobs
// may complete in any order; each carries its op index in user_data, and
// every submitted job is drained before a burst call returns.
// The burst calls (IMB_GET_NEXT_BURST / IMB_SUBMIT_BURST / IMB_FLUSH_BURST),
// not the job calls: in IPsec-MB 1.3 every get_next_job, submit_job and
// get_completed_job stores 0 into one process-wide error variable
// (imb_errno), so workers on different cores took that cache line from each
// other three times per packet. wgperf --mode drain: two workers ran each at
// ~60 % of one alone. The burst calls store it once or twice per burst.
#include <intel-ipsec-mb.h>

#include <array>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <string>

#include "crypto/aead.hpp"
#include "crypto/secret.hpp"

namespace wghub::crypto {
namespace {

// Jobs in flight per round: enough to fill every lane (16 for AVX-512) several
// times over, well under the manager's queue of IMB_MAX_JOBS.
constexpr std::size_t kMaxInflight = 64;
static_assert(kMaxInflight < IMB_MAX_JOBS);

std::uint64_t required_features(IpsecMbArch arch) {
  switch (arch) {
    case IpsecMbArch::kSse:
      return IMB_CPUFLAGS_SSE;
    case IpsecMbArch::kAvx:
      return IMB_CPUFLAGS_AVX;
    case IpsecMbArch::kAvx2:
      return IMB_CPUFLAGS_AVX2;
    case IpsecMbArch::kAvx512:
      return IMB_CPUFLAGS_AVX512;
  }
  return ~0ULL;
}

// make_aead_nonce as two stores where the byte order allows.
inline void write_nonce(std::uint8_t* out, std::uint64_t counter, std::uint32_t prefix) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(out, &prefix, 4);
    std::memcpy(out + 4, &counter, 8);
  } else {
    make_aead_nonce(out, counter, prefix);
  }
}

class IpsecMbBackend final : public AeadBackend {
 public:
  IpsecMbBackend(IMB_MGR* mgr, IpsecMbArch arch)
      : mgr_(mgr), name_(std::string("ipsec-mb/") + std::string(to_string(arch))) {}
  ~IpsecMbBackend() override {
    wipe(computed_tags_.data(), sizeof(computed_tags_));
    free_mb_mgr(mgr_);
  }
  IpsecMbBackend(const IpsecMbBackend&) = delete;
  IpsecMbBackend& operator=(const IpsecMbBackend&) = delete;

  std::string_view name() const override { return name_; }

  void seal_burst(std::span<AeadOp> ops) override { run(ops, IMB_DIR_ENCRYPT); }
  void open_burst(std::span<AeadOp> ops) override { run(ops, IMB_DIR_DECRYPT); }

 private:
  void run(std::span<AeadOp> ops, IMB_CIPHER_DIRECTION dir) {
    for (std::size_t base = 0; base < ops.size(); base += kMaxInflight) {
      run_round(ops.subspan(base, std::min(kMaxInflight, ops.size() - base)), dir);
    }
  }

  void run_round(std::span<AeadOp> ops, IMB_CIPHER_DIRECTION dir) {
    const auto n = static_cast<std::uint32_t>(ops.size());
    IMB_JOB* jobs[kMaxInflight];
    // Every call returns with the queue empty, so the whole round fits.
    if (IMB_GET_NEXT_BURST(mgr_, n, jobs) != n) {
      fail(ops, dir);
      return;
    }
    for (std::uint32_t i = 0; i < n; ++i) {
      AeadOp& op = ops[i];
      op.ok = false;
      write_nonce(ivs_[i].data(), op.counter, op.nonce_prefix);

      IMB_JOB* job = jobs[i];
      job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
      job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
      job->cipher_direction = dir;
      // RFC 8439 2.8: encrypt then MAC the ciphertext; decrypt MACs first.
      job->chain_order = dir == IMB_DIR_ENCRYPT ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
      job->enc_keys = op.key;
      job->dec_keys = op.key;
      job->key_len_in_bytes = kAeadKeyLen;
      // The library validates pointers even for empty messages.
      std::uint8_t* data = op.len != 0 ? op.data : empty_;
      job->src = data;
      job->dst = data;  // in place
      job->cipher_start_src_offset_in_bytes = 0;
      job->msg_len_to_cipher_in_bytes = op.len;
      job->hash_start_src_offset_in_bytes = 0;
      job->msg_len_to_hash_in_bytes = op.len;
      job->iv = ivs_[i].data();
      job->iv_len_in_bytes = kAeadNonceLen;
      job->u.CHACHA20_POLY1305.aad = op.ad_len != 0 ? op.ad : empty_;
      job->u.CHACHA20_POLY1305.aad_len_in_bytes = op.ad_len;
      // Seal writes the tag in place; open computes it aside for comparison.
      job->auth_tag_output = dir == IMB_DIR_ENCRYPT ? op.tag : computed_tags_[i].data();
      job->auth_tag_output_len_in_bytes = kAeadTagLen;
      job->user_data = &op;
      job->user_data2 = computed_tags_[i].data();
    }
    std::uint32_t done = IMB_SUBMIT_BURST(mgr_, n, jobs);
    if (done == 0 && imb_get_errno(mgr_) != 0) {
      // A job the library refused: none of the round ran.
      fail(ops, dir);
      return;
    }
    for (std::uint32_t i = 0; i < done; ++i) complete(jobs[i], dir);
    // Force the partly filled lanes through.
    while (done < n) {
      const std::uint32_t flushed = IMB_FLUSH_BURST(mgr_, n - done, jobs);
      if (flushed == 0) break;
      for (std::uint32_t i = 0; i < flushed; ++i) complete(jobs[i], dir);
      done += flushed;
    }
  }

  static void fail(std::span<AeadOp> ops, IMB_CIPHER_DIRECTION dir) {
    for (AeadOp& op : ops) {
      op.ok = false;
      if (dir == IMB_DIR_DECRYPT && op.len != 0) wipe(op.data, op.len);
    }
  }

  static void complete(IMB_JOB* job, IMB_CIPHER_DIRECTION dir) {
    auto* op = static_cast<AeadOp*>(job->user_data);
    if (job->status != IMB_STATUS_COMPLETED) {
      op->ok = false;
    } else if (dir == IMB_DIR_ENCRYPT) {
      op->ok = true;
    } else {
      const auto* computed = static_cast<const std::uint8_t*>(job->user_data2);
      static_assert(kAeadTagLen == 16);
      op->ok = equal_ct16(computed, op->tag);
    }
    // Never leave unauthenticated plaintext behind (libsodium behaves alike).
    if (dir == IMB_DIR_DECRYPT && !op->ok && op->len != 0) wipe(op->data, op->len);
  }

  IMB_MGR* mgr_;
  std::string name_;
  std::array<std::array<std::uint8_t, kAeadNonceLen>, kMaxInflight> ivs_{};
  alignas(64) std::array<std::array<std::uint8_t, kAeadTagLen>, kMaxInflight> computed_tags_{};
  std::uint8_t empty_[16] = {};
};

}  // namespace

std::string_view to_string(IpsecMbArch arch) noexcept {
  switch (arch) {
    case IpsecMbArch::kSse:
      return "sse";
    case IpsecMbArch::kAvx:
      return "avx";
    case IpsecMbArch::kAvx2:
      return "avx2";
    case IpsecMbArch::kAvx512:
      return "avx512";
  }
  return "unknown";
}

bool ipsecmb_arch_supported(IpsecMbArch arch) noexcept {
  const std::uint64_t need = required_features(arch);
  return (imb_get_feature_flags() & need) == need;
}

std::vector<IpsecMbArch> ipsecmb_supported_arches() {
  std::vector<IpsecMbArch> out;
  for (auto arch :
       {IpsecMbArch::kSse, IpsecMbArch::kAvx, IpsecMbArch::kAvx2, IpsecMbArch::kAvx512}) {
    if (ipsecmb_arch_supported(arch)) out.push_back(arch);
  }
  return out;
}

std::unique_ptr<AeadBackend> make_ipsecmb_backend(IpsecMbArch arch) {
  if (!ipsecmb_arch_supported(arch)) return nullptr;
  IMB_MGR* mgr = alloc_mb_mgr(0);
  if (mgr == nullptr) return nullptr;
  switch (arch) {
    case IpsecMbArch::kSse:
      init_mb_mgr_sse(mgr);
      break;
    case IpsecMbArch::kAvx:
      init_mb_mgr_avx(mgr);
      break;
    case IpsecMbArch::kAvx2:
      init_mb_mgr_avx2(mgr);
      break;
    case IpsecMbArch::kAvx512:
      init_mb_mgr_avx512(mgr);
      break;
  }
  if (imb_get_errno(mgr) != 0) {
    free_mb_mgr(mgr);
    return nullptr;
  }
  return std::make_unique<IpsecMbBackend>(mgr, arch);
}

std::unique_ptr<AeadBackend> make_ipsecmb_backend() {
  if (const char* forced = std::getenv("WGHUB_IMB_ARCH"); forced != nullptr && *forced != '\0') {
    for (auto arch :
         {IpsecMbArch::kSse, IpsecMbArch::kAvx, IpsecMbArch::kAvx2, IpsecMbArch::kAvx512}) {
      if (to_string(arch) == forced) return make_ipsecmb_backend(arch);
    }
    return nullptr;  // an arch name we do not know
  }
  const auto arches = ipsecmb_supported_arches();
  for (auto it = arches.rbegin(); it != arches.rend(); ++it) {
    if (auto backend = make_ipsecmb_backend(*it)) return backend;
  }
  return nullptr;
}

std::unique_ptr<AeadBackend> make_best_backend() {
  if (auto backend = make_ipsecmb_backend()) return backend;
  return make_sodium_backend();
}

}  // namespace wghub::crypto
