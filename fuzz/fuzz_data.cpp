// Fuzz target: the data-message receive path, as the worker runs it (worker.cpp
// classify_data / finish_decrypt): length and type checks, receiver index
// lookup, ChaCha20-Poly1305 open with the keypair's key, then the replay window
// on the authenticated counter, then the inner packet.
//
// Properties checked on every message:
//   - the libsodium burst backend, the IPsec-MB one (when this CPU runs it)
//     and the single-shot aead_open agree on accept/reject and plaintext;
//   - an accepted message is exactly what a reference seal of its plaintext
//     with the keypair's key and counter gives: a forged tag never passes;
//   - a message the target sealed itself and then tampered with never passes;
//   - the replay window agrees with a reference model (a set of counters).
//
// Input: a sequence of records, each starting with an op byte:
//   op bit 0 = 0: raw message:  [op][len lo][len hi][len bytes: the UDP payload]
//   op bit 0 = 1: sealed by us: [op][keypair][counter: 8 LE][n][n plaintext bytes]
//       bit 1: then flip the bit named by one more byte (a forgery: must fail)
//   op bit 2: check the counter against a small limit (2^13) instead of
//             REJECT_AFTER_MESSAGES
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "crypto/aead.hpp"
#include "dataplane/messages.hpp"
#include "dataplane/packet.hpp"
#include "dataplane/replay_window.hpp"
#include "fuzz/fuzz_common.hpp"

namespace {

using namespace wghub;
using fuzz::check;

constexpr std::uint32_t kIndexBase = 0x1000;
constexpr std::size_t kKeypairs = 2;
constexpr std::uint64_t kSmallLimit = 1u << 13;

struct Keypair {
  std::array<std::uint8_t, 32> key{};
  dp::ReplayWindow window;
  // The reference model of the window.
  std::set<std::uint64_t> seen;
  std::uint64_t next = 0;  // greatest accepted counter + 1

  bool model_accept(std::uint64_t counter, std::uint64_t limit) {
    if (next >= limit + 1 || counter >= limit) return false;
    if (dp::kCounterWindowSize + counter + 1 < next) return false;
    if (!seen.insert(counter).second) return false;
    next = std::max(next, counter + 1);
    return true;
  }
};

struct Backends {
  std::unique_ptr<crypto::AeadBackend> sodium = crypto::make_sodium_backend();
  std::unique_ptr<crypto::AeadBackend> ipsecmb = crypto::make_ipsecmb_backend();
};
Backends& backends() {
  static Backends b;
  return b;
}

// Opens body (ciphertext + tag) with `be`; returns ok, plaintext in `plain`.
bool open_with(crypto::AeadBackend& be, const std::vector<std::uint8_t>& body, const Keypair& kp,
               std::uint64_t counter, std::vector<std::uint8_t>& plain) {
  std::vector<std::uint8_t> buf(body);
  const auto len = static_cast<std::uint32_t>(buf.size() - crypto::kAeadTagLen);
  crypto::AeadOp op;
  op.key = kp.key.data();
  op.counter = counter;
  op.data = buf.data();
  op.len = len;
  op.tag = buf.data() + len;
  be.open_burst(std::span<crypto::AeadOp>(&op, 1));
  if (op.ok) plain.assign(buf.begin(), buf.begin() + len);
  return op.ok;
}

// One UDP payload through the receive path. `forged`: must not be accepted.
void receive(std::vector<Keypair>& kps, const std::vector<std::uint8_t>& msg, std::uint64_t limit,
             bool forged) {
  if (msg.size() < dp::kMessageDataMinSize) return;  // kBadMessageLength
  dp::MessageDataHeader hdr;
  std::memcpy(&hdr, msg.data(), sizeof hdr);
  if (hdr.header.message_type() != dp::MessageType::kData) return;
  const std::uint32_t index = hdr.receiver_index.get();
  if (index < kIndexBase || index >= kIndexBase + kps.size()) return;  // kUnknownIndex
  Keypair& kp = kps[index - kIndexBase];
  const std::uint64_t counter = hdr.counter.get();
  const std::vector<std::uint8_t> body(msg.begin() + dp::kMessageDataHeaderSize, msg.end());

  std::vector<std::uint8_t> plain, plain_mb, plain_single(body.size());
  const bool ok = open_with(*backends().sodium, body, kp, counter, plain);
  if (backends().ipsecmb) {
    const bool ok_mb = open_with(*backends().ipsecmb, body, kp, counter, plain_mb);
    check(ok == ok_mb, "IPsec-MB and libsodium disagree on a tag");
    check(!ok || plain == plain_mb, "IPsec-MB and libsodium disagree on a plaintext");
  }
  const bool ok_single = crypto::aead_open(plain_single.data(), body.data(), body.size(), nullptr,
                                           0, counter, kp.key.data());
  check(ok == ok_single, "burst and single-shot open disagree");
  if (!ok) return;  // kAuthFailed
  check(!forged, "a tampered message authenticated");

  // Only what the key sealed passes: reseal the plaintext and compare.
  std::vector<std::uint8_t> resealed(plain.size() + crypto::kAeadTagLen);
  crypto::aead_seal(resealed.data(), plain.data(), plain.size(), nullptr, 0, counter,
                    kp.key.data());
  check(resealed == body, "accepted a message the key did not seal");

  const bool fresh = kp.window.check_and_update(counter, limit);
  fuzz::trace("index %u counter %llu: authenticated, %s\n", index,
              static_cast<unsigned long long>(counter), fresh ? "fresh" : "replay/limit");
  check(fresh == kp.model_accept(counter, limit), "replay window disagrees with the model");
  if (!fresh || plain.empty()) return;  // kReplay, or a keepalive
  dp::InnerPacket inner;
  if (dp::parse_inner(plain.data(), static_cast<std::uint32_t>(plain.size()), inner) ==
      dp::DropReason::kNone)
    check(inner.length <= plain.size(), "inner packet longer than the plaintext");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<Keypair> kps(kKeypairs);
  for (std::size_t i = 0; i < kKeypairs; ++i) kps[i].key = fuzz::key_bytes(0x10 + 0x30 * i);

  std::size_t pos = 0;
  for (int records = 0; records < 64 && pos < size; ++records) {
    const std::uint8_t op = data[pos++];
    const std::uint64_t limit = (op & 4) ? kSmallLimit : dp::kRejectAfterMessages;
    std::vector<std::uint8_t> msg;
    bool forged = false;
    if ((op & 1) == 0) {
      if (size - pos < 2) break;
      const std::size_t n = data[pos] | std::size_t{data[pos + 1]} << 8;
      pos += 2;
      const std::size_t take = std::min(n, size - pos);
      msg.assign(data + pos, data + pos + take);
      pos += take;
    } else {
      if (size - pos < 10) break;
      const std::size_t k = data[pos] % kKeypairs;
      std::uint64_t counter = 0;
      for (int i = 0; i < 8; ++i) counter |= std::uint64_t{data[pos + 1 + i]} << (8 * i);
      const std::size_t n = std::min<std::size_t>(data[pos + 9], size - pos - 10);
      pos += 10;
      msg.resize(dp::kMessageDataHeaderSize + n + crypto::kAeadTagLen);
      dp::MessageDataHeader hdr{};
      hdr.header.set_type(dp::MessageType::kData);
      hdr.receiver_index.set(static_cast<std::uint32_t>(kIndexBase + k));
      hdr.counter.set(counter);
      std::memcpy(msg.data(), &hdr, sizeof hdr);
      crypto::aead_seal(msg.data() + sizeof hdr, data + pos, n, nullptr, 0, counter,
                        kps[k].key.data());
      pos += n;
      if ((op & 2) && pos < size) {
        const std::size_t bit = (std::size_t{data[pos++]} * 7919) % (msg.size() * 8);
        msg[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        // Flipping the type or index sends it elsewhere (dropped before
        // open); any other bit must make the open fail.
        forged = true;
      }
    }
    receive(kps, msg, limit, forged);
  }
  return 0;
}
