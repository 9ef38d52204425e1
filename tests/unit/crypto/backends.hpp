// Every AEAD backend this machine can run: libsodium and IPsec-MB for each
// architecture the CPU supports, so vector and differential tests cover all.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "crypto/aead.hpp"

namespace wghub::crypto::test {

inline std::vector<std::unique_ptr<AeadBackend>> all_backends() {
  std::vector<std::unique_ptr<AeadBackend>> out;
  out.push_back(make_sodium_backend());
  for (IpsecMbArch arch : ipsecmb_supported_arches()) {
    auto backend = make_ipsecmb_backend(arch);
    EXPECT_NE(backend, nullptr) << "IPsec-MB failed to initialise for " << to_string(arch);
    if (backend) out.push_back(std::move(backend));
  }
  return out;
}

// Splits a 12-byte RFC 8439 nonce into AeadOp's prefix and counter.
inline void split_nonce(const std::uint8_t* nonce, std::uint32_t& prefix, std::uint64_t& counter) {
  prefix = 0;
  counter = 0;
  for (int i = 0; i < 4; ++i) prefix |= std::uint32_t{nonce[i]} << (8 * i);
  for (int i = 0; i < 8; ++i) counter |= std::uint64_t{nonce[4 + i]} << (8 * i);
}

}  // namespace wghub::crypto::test
