// Fuzz target: the control thread's handshake stage, HandshakeEngine::receive
// — length checks, mac1/mac2, cookie replies (made and consumed), the rate
// limiter, consume_initiation / consume_response and the index bookkeeping —
// driven by a sequence of records against a fresh engine with a fixed
// identity and three peers (site 0; site 1 with a preshared key; a peer with
// a low-order all-zero key). Simulated sites built from our own Noise code
// can send genuine messages the fuzzer then tampers with, so the deep paths
// are reached in a useful fraction of inputs. The fake sink checks that
// indices are only released or installed once reserved, once.
//
// Input: records of [mode][sel][dt][n][n payload bytes]
//   mode bits 0-2: 0 raw message (the payload)
//                  1 raw message, then valid macs added by site sel (mac2 too
//                    when that site holds a cookie from the hub)
//                  2 genuine initiation from site sel (2 = a stranger)
//                  3 genuine response from site sel to the hub's last
//                    initiation to it
//                  4 genuine cookie reply from site sel to that initiation
//                  5 the hub initiates to peer sel (bit 4: force)
//                  6 remove (payload[0] even) or re-add peer sel
//                  7 a message of type payload[0] % 3 + 1 with the right
//                    length, reserved bytes zero, valid macs (from payload)
//        bit 3: an initiation prepared twice (two handshake threads) and
//        completed twice                  bit 4 (modes 2-4): tamper before
//               the macs are added (pairs of payload bytes: offset, xor)
//        bit 6: dt counts seconds, else tens of milliseconds
//   sel bits 0-1: site / peer; bits 2-3: source address
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "control/handshake_engine.hpp"
#include "fuzz/fuzz_common.hpp"

namespace {

using namespace wghub;
using namespace wghub::ctl;
using fuzz::check;

struct Fixtures {
  LocalIdentity site[fuzz::kSites] = {fuzz::site_identity(0), fuzz::site_identity(1),
                                      fuzz::site_identity(2)};
  PublicKey hub_public = fuzz::hub_identity().public_key;
  crypto::Secret<32> psk = fuzz::site1_psk();
};
const Fixtures& fixtures() {
  static const Fixtures f;
  return f;
}

const SourceAddress kSources[4] = {
    fuzz::site_source(), SourceAddress::ipv4({203, 0, 113, 8}, 51820),
    SourceAddress::ipv6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}, 51820),
    SourceAddress::ipv4({100, 64, 0, 1}, 1)};

constexpr std::uint32_t kSlots[3] = {1, 2, 3};  // site 0, site 1, low-order peer

class Sink : public HandshakeSink {
 public:
  void send_handshake(const SourceAddress& to, std::span<const std::uint8_t> m,
                      std::optional<std::uint32_t> slot) override {
    check(m.size() == dp::kMessageInitiationSize || m.size() == dp::kMessageResponseSize ||
              m.size() == dp::kMessageCookieReplySize,
          "sent a message of no handshake size");
    last_to = to;
    last_sent.assign(m.begin(), m.end());
    last_slot = slot;
    ++sent;
  }
  std::optional<std::uint32_t> reserve_index() override {
    if (reserved.size() >= 6) return std::nullopt;  // exercise kNoIndex
    const std::uint32_t index = next_index++;
    reserved.insert(index);
    return index;
  }
  void release_index(std::uint32_t index) override {
    check(reserved.erase(index) == 1, "released an index that was not reserved");
  }
  void install_keypair(std::uint32_t slot, Keypair&& kp) override {
    check(reserved.erase(kp.local_index) == 1, "installed a keypair on an unreserved index");
    check(slot == 1 || slot == 2, "keypair for a peer that cannot handshake");
    ++keypairs;
  }
  void set_endpoint(std::uint32_t, const SourceAddress&) override {}
  void send_keepalive(std::uint32_t slot) override {
    check(slot == 1 || slot == 2, "keepalive for a peer that cannot handshake");
  }

  std::set<std::uint32_t> reserved;
  std::uint32_t next_index = 0x1000;
  std::size_t keypairs = 0;
  std::size_t sent = 0;
  SourceAddress last_to;
  std::vector<std::uint8_t> last_sent;
  std::optional<std::uint32_t> last_slot;
};

// A site: its handshake state with the hub (made on first use: one DH), its
// macs towards the hub, the checker for what the hub sends it.
struct Site {
  explicit Site(std::size_t i)
      : index(i), maker(fixtures().hub_public), checker(fixtures().site[i].public_key) {}
  PeerHandshake& hs() {
    if (!handshake)
      handshake.emplace(fixtures().hub_public, index == 1 ? &fixtures().psk : nullptr);
    return *handshake;
  }
  std::size_t index;
  std::optional<PeerHandshake> handshake;
  CookieMaker maker;
  CookieChecker checker;
  std::vector<std::uint8_t> hub_initiation;  // the last one the hub sent this site
  std::uint32_t step = 0;
};

void add_peer(HandshakeEngine& engine, std::size_t k) {
  HandshakePeerSettings s;
  s.slot = kSlots[k];
  s.name = "peer";
  if (k < 2) s.public_key = fixtures().site[k].public_key;  // else all zero: low order
  s.preshared_key = k == 1 ? &fixtures().psk : nullptr;
  s.endpoint = kSources[k];
  engine.add_peer(s);
}

void tamper(std::span<std::uint8_t> msg, std::span<const std::uint8_t> edits) {
  for (std::size_t i = 0; i + 1 < edits.size(); i += 2) msg[edits[i] % msg.size()] ^= edits[i + 1];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Sink sink;
  HandshakeEngine engine(fuzz::hub_identity(), sink);
  for (std::size_t k = 0; k < 3; ++k) add_peer(engine, k);
  Site sites[fuzz::kSites] = {Site(0), Site(1), Site(2)};

  std::uint64_t now_ms = 0;
  std::size_t pos = 0;
  for (int records = 0; records < 12 && size - pos >= 4; ++records) {
    const std::uint8_t mode = data[pos], sel = data[pos + 1], dt = data[pos + 2];
    const std::size_t n = std::min<std::size_t>(data[pos + 3], size - pos - 4);
    const std::span<const std::uint8_t> payload(data + pos + 4, n);
    pos += 4 + n;
    now_ms += (mode & 0x40) ? dt * 1000ull : dt * 10ull;
    const TimePoint now = fuzz::at(now_ms);
    // Prepared twice (two handshake threads with the same message), completed twice.
    const bool prepare_twice = mode & 0x08;
    const bool tamper_first = mode & 0x10;
    const SourceAddress& from = kSources[(sel >> 2) & 3];
    Site& site = sites[(sel & 3) % fuzz::kSites];

    std::vector<std::uint8_t> msg;
    switch (mode & 7) {
      case 0:
        msg.assign(payload.begin(), payload.end());
        break;
      case 1:
        msg.assign(payload.begin(), payload.end());
        if (msg.size() == dp::kMessageInitiationSize || msg.size() == dp::kMessageResponseSize)
          site.maker.add_macs(msg, now);
        break;
      case 2: {
        dp::MessageInitiation init{};
        const auto eph = fuzz::ephemeral(static_cast<std::uint8_t>(0x80 + site.step));
        const std::uint32_t index = n >= 1 ? payload[0] : 1;
        if (create_initiation(init, site.hs(), fixtures().site[site.index], index,
                              fuzz::timestamp(++site.step), &eph) != NoiseError::kOk)
          break;
        msg.assign(fuzz::bytes_of(init).begin(), fuzz::bytes_of(init).end());
        if (tamper_first) tamper(msg, payload.subspan(n >= 1 ? 1 : 0));
        site.maker.add_macs(msg, now);
        if (!tamper_first) tamper(msg, payload.subspan(n >= 1 ? 1 : 0));
        break;
      }
      case 3: {
        if (site.hub_initiation.size() != dp::kMessageInitiationSize) break;
        dp::MessageInitiation init;
        std::memcpy(&init, site.hub_initiation.data(), sizeof init);
        const PublicKey hub = fixtures().hub_public;
        PeerHandshake& hs = site.hs();
        const auto consumed = consume_initiation(
            init, fixtures().site[site.index],
            [&](const PublicKey& k) -> PeerHandshake* { return k == hub ? &hs : nullptr; }, now);
        if (!consumed.ok()) break;
        dp::MessageResponse resp{};
        const auto eph = fuzz::ephemeral(static_cast<std::uint8_t>(0x30 + ++site.step));
        if (create_response(resp, hs, 0x7000 + site.step, &eph) != NoiseError::kOk) break;
        msg.assign(fuzz::bytes_of(resp).begin(), fuzz::bytes_of(resp).end());
        if (tamper_first) tamper(msg, payload);
        site.maker.add_macs(msg, now);
        if (!tamper_first) tamper(msg, payload);
        break;
      }
      case 4: {
        if (site.hub_initiation.size() != dp::kMessageInitiationSize) break;
        dp::MessageCookieReply reply{};
        std::array<std::uint8_t, dp::kCookieNonceLen> nonce{};
        nonce[0] = static_cast<std::uint8_t>(++site.step);
        site.checker.create_cookie_reply(reply, site.hub_initiation, fuzz::hub_source(), now,
                                         &nonce);
        msg.assign(fuzz::bytes_of(reply).begin(), fuzz::bytes_of(reply).end());
        tamper(msg, payload);
        break;
      }
      case 5: {
        const std::size_t k = (sel & 3) % 3;
        const std::size_t before = sink.sent;
        const bool sent = engine.initiate(kSlots[k], now, mode & 0x10);
        check(sent == (sink.sent == before + 1), "initiate's verdict and what it sent");
        if (sent) {
          check(sink.last_slot == kSlots[k] && sink.last_sent.size() == dp::kMessageInitiationSize,
                "initiation to the wrong peer");
          if (k < 2) sites[k].hub_initiation = sink.last_sent;
        }
        continue;
      }
      case 6: {
        const std::size_t k = (sel & 3) % 3;
        if (n >= 1 && payload[0] % 2 == 0)
          engine.remove_peer(kSlots[k]);
        else
          add_peer(engine, k);
        continue;
      }
      case 7: {
        if (n < 1) break;
        static constexpr std::size_t kSizes[3] = {
            dp::kMessageInitiationSize, dp::kMessageResponseSize, dp::kMessageCookieReplySize};
        const std::uint8_t type = payload[0] % 3 + 1;
        msg.assign(payload.begin() + 1, payload.end());
        msg.resize(kSizes[type - 1]);
        msg[0] = type;
        msg[1] = msg[2] = msg[3] = 0;
        if (type != 3) site.maker.add_macs(msg, now);
        break;
      }
    }
    if (msg.empty()) continue;

    const std::size_t sent_before = sink.sent, keypairs_before = sink.keypairs;
    HandshakeEngine::Result r;
    if (prepare_twice && msg[0] == static_cast<std::uint8_t>(dp::MessageType::kInitiation)) {
      HandshakeEngine::Prepared a, b;
      engine.prepare_initiation(msg, a);
      engine.prepare_initiation(msg, b);
      r = engine.complete_initiation(a, from, now);
      const std::size_t keypairs_after = sink.keypairs;
      const auto r2 = engine.complete_initiation(b, from, now);
      check(r2.outcome != HandshakeOutcome::kSessionDerived && sink.keypairs == keypairs_after,
            "one initiation gave two sessions");
    } else {
      r = engine.receive(msg, from, now);
    }
    fuzz::trace("record %d mode %d: outcome %d drop %s noise %s\n", records, mode & 7,
                static_cast<int>(r.outcome), r.drop ? to_string(*r.drop).data() : "-",
                r.noise_error ? to_string(*r.noise_error).data() : "-");
    switch (r.outcome) {
      case HandshakeOutcome::kSessionDerived:
        check(r.peer_slot && !r.drop && sink.keypairs == keypairs_before + 1,
              "a session without its keypair");
        break;
      case HandshakeOutcome::kCookieConsumed:
        check(msg.size() == dp::kMessageCookieReplySize && sink.keypairs == keypairs_before,
              "a cookie consumed from no cookie reply");
        break;
      case HandshakeOutcome::kDropped:
        check(r.drop.has_value() && sink.keypairs == keypairs_before, "a drop that did something");
        check(r.drop != HandshakeDrop::kCount, "drop reason out of range");
        (void)to_string(*r.drop);
        break;
    }
  }
  return 0;
}
