// Shared fixtures of the fuzz targets and of the seed generator (make_seeds):
// fixed keys and addresses, the deterministic handshake messages the noise
// target's seeds are made of, and the check that turns a broken property into
// a crash libFuzzer reports. Header-only; every fixture is deterministic so
// that a crash file reproduces.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <span>
#include <string_view>
#include <vector>

#include "control/cookie.hpp"
#include "control/noise.hpp"
#include "crypto/secret.hpp"
#include "crypto/tai64n.hpp"
#include "dataplane/messages.hpp"

namespace wghub::fuzz {

// A property of the code under test does not hold: report and crash so that
// libFuzzer saves the input.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "wghub fuzz property violated: %s\n", what);
  std::abort();
}
inline void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

// WGHUB_FUZZ_TRACE=1 makes the targets print what each input did (to check
// that seeds reach the paths they are meant for); off while fuzzing.
inline bool tracing() {
  static const bool on = std::getenv("WGHUB_FUZZ_TRACE") != nullptr;
  return on;
}
template <typename... Args>
void trace(const char* format, Args... args) {
  if (tracing()) std::fprintf(stderr, format, args...);
}

// 32 bytes filled with `seed`, `seed + 1`, ... (keys and ephemerals).
inline std::array<std::uint8_t, 32> key_bytes(std::uint8_t seed) {
  std::array<std::uint8_t, 32> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed + i);
  return k;
}

inline ctl::LocalIdentity hub_identity() {
  const auto k = key_bytes(0x01);
  return ctl::LocalIdentity::from_private_key(k);
}
// Sites 0 and 1 are configured peers of the hub (site 1 with a preshared
// key); site 2 is a stranger.
inline constexpr std::size_t kSites = 3;
inline ctl::LocalIdentity site_identity(std::size_t site) {
  const auto k = key_bytes(static_cast<std::uint8_t>(0x40 + 0x20 * site));
  return ctl::LocalIdentity::from_private_key(k);
}
inline crypto::Secret<32> site1_psk() {
  const auto k = key_bytes(0xa0);
  return crypto::Secret<32>(std::span<const std::uint8_t, 32>(k));
}
inline crypto::Secret<32> ephemeral(std::uint8_t seed) {
  const auto k = key_bytes(seed);
  return crypto::Secret<32>(std::span<const std::uint8_t, 32>(k));
}

// A fixed TAI64N timestamp, `step` seconds after 2023-11-14 (whole seconds:
// the encoder may coarsen the nanoseconds).
inline crypto::Tai64n timestamp(std::uint32_t step) {
  timespec t{};
  t.tv_sec = 1700000000 + static_cast<time_t>(step);
  return crypto::tai64n_from(t);
}

inline ctl::TimePoint at(std::uint64_t ms) {
  return ctl::TimePoint{} + std::chrono::hours(1000) + std::chrono::milliseconds(ms);
}

inline ctl::SourceAddress hub_source() {
  return ctl::SourceAddress::ipv4({198, 51, 100, 10}, 51820);
}
inline ctl::SourceAddress site_source() {
  return ctl::SourceAddress::ipv4({203, 0, 113, 7}, 40001);
}

template <typename T>
std::span<std::uint8_t> bytes_of(T& m) {
  return {reinterpret_cast<std::uint8_t*>(&m), sizeof m};
}
template <typename T>
std::span<const std::uint8_t> bytes_of(const T& m) {
  return {reinterpret_cast<const std::uint8_t*>(&m), sizeof m};
}

// The initiation site 0 sends the hub (fixed ephemeral, timestamp, index
// 0x1234), macs included. `hs` receives site 0's handshake state.
inline constexpr std::uint32_t kSiteIndex = 0x1234;
inline constexpr std::uint32_t kHubIndex = 0x5678;
inline dp::MessageInitiation site_initiation(ctl::PeerHandshake& hs, const ctl::LocalIdentity& site,
                                             const ctl::PublicKey& hub_public) {
  dp::MessageInitiation msg{};
  const auto eph = ephemeral(0xc0);
  check(
      ctl::create_initiation(msg, hs, site, kSiteIndex, timestamp(1), &eph) == ctl::NoiseError::kOk,
      "create_initiation of the fixture");
  ctl::CookieMaker maker(hub_public);
  maker.add_macs(bytes_of(msg), at(0));
  return msg;
}

// The hub's response to site_initiation (fixed ephemeral, index 0x5678).
inline dp::MessageResponse hub_response(const dp::MessageInitiation& init,
                                        const ctl::LocalIdentity& hub,
                                        const ctl::PublicKey& site_public) {
  ctl::PeerHandshake peer(site_public);
  const auto consumed = ctl::consume_initiation(
      init, hub,
      [&](const ctl::PublicKey& k) -> ctl::PeerHandshake* {
        return k == site_public ? &peer : nullptr;
      },
      at(0));
  check(consumed.ok(), "consume_initiation of the fixture");
  dp::MessageResponse resp{};
  const auto eph = ephemeral(0xe0);
  check(ctl::create_response(resp, peer, kHubIndex, &eph) == ctl::NoiseError::kOk,
        "create_response of the fixture");
  ctl::CookieMaker maker(site_public);
  maker.add_macs(bytes_of(resp), at(0));
  return resp;
}

}  // namespace wghub::fuzz
