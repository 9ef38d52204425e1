// Fuzz target: the Noise_IKpsk2 consume steps and the cookie code directly,
// without the engine around them, against fixed keys so that the seeds
// (fuzz_seeds: a genuine initiation, response and cookie reply) authenticate
// and the fuzzer starts on the success paths.
//
// Input: [what][message bytes, cut or zero-padded to the message's size]
//   what % 4 == 0: consume_initiation at the hub (site 0 is its peer); on
//                  success create_response and begin_session must work
//              1: consume_response at site 0, whose initiation (fixed
//                 ephemeral and timestamp) is pending; on success
//                 begin_session must give a keypair
//              2: CookieMaker::consume_cookie_reply for site 0's initiation
//              3: CookieChecker::validate on an initiation (what bit 2 clear)
//                 or response (set), with mac2 checked when bit 3 is set
#include <cstdint>
#include <cstring>
#include <vector>

#include "control/cookie.hpp"
#include "control/noise.hpp"
#include "fuzz/fuzz_common.hpp"

namespace {

using namespace wghub;
using namespace wghub::ctl;
using fuzz::check;

struct Fixtures {
  LocalIdentity hub = fuzz::hub_identity();
  LocalIdentity site = fuzz::site_identity(0);
  dp::MessageInitiation initiation{};  // site 0's, to the hub
  Fixtures() {
    PeerHandshake hs(hub.public_key);
    initiation = fuzz::site_initiation(hs, site, hub.public_key);
  }
};
const Fixtures& fixtures() {
  static const Fixtures f;
  return f;
}

template <typename Message>
Message from_bytes(const std::uint8_t* data, std::size_t size) {
  Message m{};
  std::memcpy(&m, data, std::min(size, sizeof m));
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const Fixtures& f = fixtures();
  const std::uint8_t what = data[0];
  ++data;
  --size;
  switch (what % 4) {
    case 0: {
      const auto msg = from_bytes<dp::MessageInitiation>(data, size);
      PeerHandshake peer(f.site.public_key);
      const auto r = consume_initiation(
          msg, f.hub,
          [&](const PublicKey& k) -> PeerHandshake* {
            return k == f.site.public_key ? &peer : nullptr;
          },
          fuzz::at(0));
      fuzz::trace("consume_initiation: %s\n", to_string(r.error).data());
      check(r.ok() == (peer.stage() == HandshakeStage::kConsumedInitiation),
            "consume_initiation's verdict and the peer's stage");
      if (!r.ok()) {
        check(peer.stage() == HandshakeStage::kZeroed, "a failed consume changed the peer");
        break;
      }
      check(r.peer == &peer, "consume_initiation named another peer");
      dp::MessageResponse resp{};
      check(create_response(resp, peer, 0x99) == NoiseError::kOk, "no response to a consumed one");
      check(begin_session(peer, fuzz::at(0)).has_value(), "no session after a response");
      break;
    }
    case 1: {
      const auto msg = from_bytes<dp::MessageResponse>(data, size);
      PeerHandshake hs(f.hub.public_key);
      dp::MessageInitiation init{};
      const auto eph = fuzz::ephemeral(0xc0);
      check(create_initiation(init, hs, f.site, fuzz::kSiteIndex, fuzz::timestamp(1), &eph) ==
                NoiseError::kOk,
            "create_initiation");
      const auto r = consume_response(msg, f.site, [&](std::uint32_t i) -> PeerHandshake* {
        return i == fuzz::kSiteIndex ? &hs : nullptr;
      });
      fuzz::trace("consume_response: %s\n", to_string(r.error).data());
      if (!r.ok()) {
        check(hs.stage() == HandshakeStage::kCreatedInitiation, "a failed consume lost the state");
        break;
      }
      check(hs.stage() == HandshakeStage::kConsumedResponse &&
                hs.remote_index() == msg.sender_index.get(),
            "consume_response's result");
      const auto kp = begin_session(hs, fuzz::at(0));
      check(kp.has_value() && kp->is_initiator && kp->local_index == fuzz::kSiteIndex,
            "the initiator's keypair");
      break;
    }
    case 2: {
      const auto reply = from_bytes<dp::MessageCookieReply>(data, size);
      CookieMaker maker(f.hub.public_key);
      auto init = f.initiation;
      maker.add_macs(fuzz::bytes_of(init), fuzz::at(0));
      const bool ok = maker.consume_cookie_reply(reply, fuzz::at(0));
      fuzz::trace("consume_cookie_reply: %d\n", ok);
      check(ok == maker.has_cookie(fuzz::at(0)), "consume_cookie_reply and has_cookie disagree");
      break;
    }
    case 3: {
      CookieChecker checker(f.hub.public_key);
      std::vector<std::uint8_t> msg(data, data + size);
      msg.resize((what & 4) ? dp::kMessageResponseSize : dp::kMessageInitiationSize);
      const auto state = checker.validate(msg, fuzz::site_source(), fuzz::at(0), what & 8);
      fuzz::trace("validate: %d\n", static_cast<int>(state));
      if (state == MacState::kValidMacWithCookie)
        fuzz::fail("mac2 valid for a cookie this checker never made");
      if (state != MacState::kInvalidMac) {
        dp::MessageCookieReply out{};
        checker.create_cookie_reply(out, msg, fuzz::site_source(), fuzz::at(0));
      }
      break;
    }
  }
  return 0;
}
