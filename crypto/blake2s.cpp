// BLAKE2s (RFC 7693) over libb2 and the WireGuard constructions on top of it:
// HMAC-BLAKE2s (RFC 2104, 64-byte block) and KDF1..3 (whitepaper 5.4).
#include "crypto/blake2s.hpp"

#include <blake2.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "crypto/secret.hpp"

namespace wghub::crypto {
namespace {

// Sizes outside what BLAKE2s defines are programming errors, not user input.
[[noreturn]] void contract_violation(const char* what) {
  std::fprintf(stderr, "wghub: blake2s contract violation: %s\n", what);
  std::abort();
}

void check_sizes(std::size_t out_len, std::size_t key_len) {
  if (out_len == 0 || out_len > BLAKE2S_OUTBYTES) contract_violation("output length not 1..32");
  if (key_len > BLAKE2S_KEYBYTES) contract_violation("key longer than 32 bytes");
}

}  // namespace

void blake2s(std::span<std::uint8_t> out, std::span<const std::uint8_t> in,
             std::span<const std::uint8_t> key) {
  check_sizes(out.size(), key.size());
  // libb2 0.98's argument order: out, in, key, outlen, inlen, keylen.
  if (::blake2s(out.data(), in.data(), key.empty() ? nullptr : key.data(), out.size(), in.size(),
                key.size()) != 0) {
    contract_violation("libb2 rejected the parameters");
  }
}

Blake2s::Blake2s(std::size_t out_len, std::span<const std::uint8_t> key) : out_len_(out_len) {
  static_assert(sizeof(blake2s_state) <= sizeof(state_), "libb2 state does not fit");
  check_sizes(out_len, key.size());
  auto* s = new (state_) blake2s_state;
  const int rc =
      key.empty() ? blake2s_init(s, out_len) : blake2s_init_key(s, out_len, key.data(), key.size());
  if (rc != 0) contract_violation("blake2s_init failed");
}

Blake2s::~Blake2s() {
  wipe(state_, sizeof(state_));
}

Blake2s& Blake2s::update(std::span<const std::uint8_t> in) {
  blake2s_update(reinterpret_cast<blake2s_state*>(state_), in.data(), in.size());
  return *this;
}

void Blake2s::final(std::span<std::uint8_t> out) {
  if (out.size() < out_len_) contract_violation("output buffer shorter than out_len");
  if (blake2s_final(reinterpret_cast<blake2s_state*>(state_), out.data(), out_len_) != 0) {
    contract_violation("blake2s_final failed (already finalised?)");
  }
}

void hmac_blake2s(std::span<std::uint8_t, kBlake2sOutLen> out, std::span<const std::uint8_t> key,
                  std::span<const std::uint8_t> in) {
  // RFC 2104: K is hashed when longer than the block, then zero-padded to
  // the block; HMAC = H((K ^ opad) || H((K ^ ipad) || in)).
  Secret<kBlake2sBlockLen> block;
  if (key.size() > kBlake2sBlockLen) {
    blake2s(block.span().first(kBlake2sOutLen), key);
  } else {
    for (std::size_t i = 0; i < key.size(); ++i) block.data()[i] = key[i];
  }

  Secret<kBlake2sBlockLen> pad;
  for (std::size_t i = 0; i < kBlake2sBlockLen; ++i) pad.data()[i] = block.data()[i] ^ 0x36;
  Secret<kBlake2sOutLen> inner;
  Blake2s(kBlake2sOutLen).update(pad.span()).update(in).final(inner.span());

  for (std::size_t i = 0; i < kBlake2sBlockLen; ++i) pad.data()[i] = block.data()[i] ^ 0x5c;
  Blake2s(kBlake2sOutLen).update(pad.span()).update(inner.span()).final(out);
}

void kdf(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input, std::uint8_t* out1,
         std::uint8_t* out2, std::uint8_t* out3) {
  // Whitepaper 5.4: tau0 = HMAC(key, input) is the extraction secret;
  // tau1 = HMAC(tau0, 0x1); tau_i = HMAC(tau0, tau_(i-1) || i).
  Secret<kBlake2sOutLen> tau0;
  hmac_blake2s(tau0.span(), key, input);

  // prev_and_index holds tau_(i-1) || i for the next round.
  Secret<kBlake2sOutLen + 1> prev_and_index;
  Secret<kBlake2sOutLen> tau;
  std::uint8_t* outs[3] = {out1, out2, out3};
  for (std::size_t i = 0; i < 3 && outs[i] != nullptr; ++i) {
    std::span<const std::uint8_t> msg;
    if (i == 0) {
      prev_and_index.data()[0] = 1;
      msg = prev_and_index.span().first(1);
    } else {
      for (std::size_t j = 0; j < kBlake2sOutLen; ++j) prev_and_index.data()[j] = tau.data()[j];
      prev_and_index.data()[kBlake2sOutLen] = static_cast<std::uint8_t>(i + 1);
      msg = prev_and_index.span();
    }
    hmac_blake2s(tau.span(), tau0.span(), msg);
    for (std::size_t j = 0; j < kBlake2sOutLen; ++j) outs[i][j] = tau.data()[j];
  }
}

}  // namespace wghub::crypto
