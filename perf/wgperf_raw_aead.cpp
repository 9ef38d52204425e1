// The raw AEAD reference (see wgperf_bench.hpp): IPsec-MB ChaCha20-Poly1305
// alone on a core, on the same packet sizes as a point.
#include <rte_cycles.h>

#include <algorithm>
#include <cstring>

#include "crypto/aead.hpp"
#include "perf/wgperf_bench.hpp"
#include "perf/wgperf_testbed.hpp"

namespace wghub::perf {

int raw_on_lcore(void* arg) {
  auto* a = static_cast<RawArgs*>(arg);
  a->mpps = raw_aead_mpps(a->engine, a->size, 32, a->seconds);
  return 0;
}

RawAead::RawAead(Engine engine, unsigned size, unsigned burst)
    : aead_(crypto::make_best_backend()),
      open_(engine == Engine::kDecap || engine == Engine::kHubFwd),
      seal_(engine == Engine::kEncap || engine == Engine::kHubFwd) {
  if (!applicable()) return;
  std::vector<std::size_t> lens(burst);
  std::size_t total = 0;
  for (unsigned i = 0; i < burst; ++i) total += lens[i] = padded(size_of(size, i));
  data_.resize(total);
  tags_.resize(burst * crypto::kAeadTagLen);
  keys_.resize(burst * 32);
  for (std::size_t i = 0; i < data_.size(); ++i) data_[i] = static_cast<std::uint8_t>(i * 13);
  for (std::size_t i = 0; i < keys_.size(); ++i) keys_[i] = static_cast<std::uint8_t>(i * 7 + 1);
  ops_.resize(burst);
  std::size_t at = 0;
  for (unsigned i = 0; i < burst; ++i) {
    ops_[i].key = &keys_[i * 32];
    ops_[i].counter = i;
    ops_[i].data = &data_[at];
    ops_[i].len = static_cast<std::uint32_t>(lens[i]);
    ops_[i].tag = &tags_[i * crypto::kAeadTagLen];
    at += lens[i];
  }
  aead_->seal_burst(ops_);
  sealed_ = data_;
}

void RawAead::run(std::uint64_t packets, std::uint64_t& done, std::uint64_t& cycles) {
  if (!applicable()) return;
  for (std::uint64_t n = 0; n < packets; n += ops_.size()) {
    // Open works in place: restore the ciphertext outside the timed part.
    if (open_) std::memcpy(data_.data(), sealed_.data(), data_.size());
    const std::uint64_t t0 = rte_rdtsc_precise();
    if (open_) aead_->open_burst(ops_);
    if (seal_) aead_->seal_burst(ops_);
    cycles += rte_rdtsc_precise() - t0;
    done += ops_.size();
  }
}

bool RawAead::all_opened() const {
  return std::all_of(ops_.begin(), ops_.end(), [](const crypto::AeadOp& op) { return op.ok; });
}

double raw_aead_mpps(Engine engine, unsigned size, unsigned burst, double seconds) {
  RawAead raw(engine, size, burst);
  if (!raw.applicable()) return 0;
  const std::uint64_t hz = rte_get_tsc_hz();
  const std::uint64_t budget = static_cast<std::uint64_t>(seconds * hz);
  std::uint64_t cycles = 0, packets = 0;
  const std::uint64_t wall_end = rte_get_tsc_cycles() + 4 * budget;
  while (cycles < budget && rte_get_tsc_cycles() < wall_end) raw.run(burst, packets, cycles);
  if (engine == Engine::kDecap && !raw.all_opened()) return 0;
  return static_cast<double>(packets) / (static_cast<double>(cycles) / hz) / 1e6;
}

}  // namespace wghub::perf
