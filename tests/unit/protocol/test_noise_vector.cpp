// The generic Noise_IKpsk2 layer (control/noise_symmetric.hpp) reproduces the
// cacophony test vector Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s byte for byte:
// both handshake messages and the transport messages that follow.
// Vector: haskell-cryptography/cacophony, vectors/cacophony.txt.
#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "control/noise_symmetric.hpp"
#include "crypto/aead.hpp"
#include "crypto/x25519.hpp"
#include "test_util.hpp"

namespace wghub::ctl::noise {
namespace {

using crypto::Secret;
using test::array_from_hex;
using test::from_hex;

constexpr std::string_view kName = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
constexpr std::string_view kPrologue = "4a6f686e2047616c74";
constexpr std::string_view kPsk =
    "54686973206973206d7920417573747269616e20706572737065637469766521";
constexpr std::string_view kInitStatic =
    "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
constexpr std::string_view kInitEphemeral =
    "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
constexpr std::string_view kInitRemoteStatic =
    "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62";
constexpr std::string_view kRespStatic =
    "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
constexpr std::string_view kRespEphemeral =
    "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";

struct VectorMessage {
  std::string_view payload;
  std::string_view ciphertext;
};

constexpr VectorMessage kMessages[] = {
    {"4c756477696720766f6e204d69736573",
     "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944001e21de9f98ddd8e2ad5752"
     "7207feb56253c9c94a9e496782ecfcb2a75fbcaf1b52948cc48daefe660c62119ab5000980c84831215f2441"
     "eba616548e832985464cf17e51ee93109008399a21f7e13f"},
    {"4d757272617920526f746862617264",
     "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843cb765f2caef0751b8f007572"
     "dab0322217755c0632f365717edbf34d33e87a"},
    {"462e20412e20486179656b", "8153ca9833bc3c1b91a7e66e5f4d4f5b59bf9e64c2f20d15f0bba7"},
    {"4361726c204d656e676572", "07af0c9c86e1b4e80f36b04ff7688d51141af3debd0332f0a705ef"},
    {"4a65616e2d426170746973746520536179",
     "6ab1467c0448cc78394494abaaf23afce0e234315d6e2624dcbfa8a21c1c4d073d"},
    {"457567656e2042f6686d20766f6e2042617765726b",
     "dfc346c0d2296ae6cf1acf6f12b8456a1dba228cf8d8b774aacf1c47fc53aa80ebc7a4c292"},
};

Secret<32> secret_from_hex(std::string_view hex) {
  auto a = array_from_hex<32>(hex);
  return Secret<32>(std::span<const std::uint8_t, 32>(a));
}

std::array<std::uint8_t, 32> public_of(const Secret<32>& priv) {
  std::array<std::uint8_t, 32> pub{};
  crypto::x25519_public(pub, priv.span());
  return pub;
}

Secret<32> dh(const Secret<32>& priv, std::span<const std::uint8_t, 32> pub) {
  Secret<32> out;
  EXPECT_TRUE(crypto::x25519(out.span(), priv.span(), pub));
  return out;
}

TEST(NoiseVector, CacophonyIKpsk2ChaChaPolyBlake2s) {
  const auto prologue = from_hex(kPrologue);
  const auto psk = array_from_hex<32>(kPsk);
  const Secret<32> init_static = secret_from_hex(kInitStatic);
  const Secret<32> init_ephemeral = secret_from_hex(kInitEphemeral);
  const Secret<32> resp_static = secret_from_hex(kRespStatic);
  const Secret<32> resp_ephemeral = secret_from_hex(kRespEphemeral);
  const auto init_static_pub = public_of(init_static);
  const auto resp_static_pub = public_of(resp_static);
  // The vector's "init_remote_static" is the responder's public key.
  ASSERT_EQ(resp_static_pub, (array_from_hex<32>(kInitRemoteStatic)));

  IkPsk2 initiator;
  IkPsk2 responder;
  initiator.initialize(IkPsk2::Role::kInitiator, kName, prologue, resp_static_pub);
  responder.initialize(IkPsk2::Role::kResponder, kName, prologue, resp_static_pub);

  // -> e, es, s, ss, payload
  const auto payload0 = from_hex(kMessages[0].payload);
  std::vector<std::uint8_t> msg0(message_1_len(payload0.size()));
  const Secret<32> ss_i = dh(init_static, resp_static_pub);
  ASSERT_EQ(initiator.write_message_1(msg0, init_ephemeral, init_static_pub, ss_i, payload0),
            Status::kOk);
  EXPECT_EQ(msg0, from_hex(kMessages[0].ciphertext));

  ASSERT_EQ(responder.read_message_1_static(msg0, resp_static), Status::kOk);
  EXPECT_EQ(responder.remote_static(), init_static_pub);
  const Secret<32> ss_r = dh(resp_static, responder.remote_static());
  std::vector<std::uint8_t> got0(msg0.size() - message_1_len(0));
  ASSERT_EQ(responder.read_message_1_payload(msg0, ss_r, got0), Status::kOk);
  EXPECT_EQ(got0, payload0);

  // <- e, ee, se, psk, payload
  const auto payload1 = from_hex(kMessages[1].payload);
  std::vector<std::uint8_t> msg1(message_2_len(payload1.size()));
  ASSERT_EQ(responder.write_message_2(msg1, resp_ephemeral, psk, payload1), Status::kOk);
  EXPECT_EQ(msg1, from_hex(kMessages[1].ciphertext));

  std::vector<std::uint8_t> got1(msg1.size() - message_2_len(0));
  ASSERT_EQ(initiator.read_message_2(msg1, init_static, psk, got1), Status::kOk);
  EXPECT_EQ(got1, payload1);
  EXPECT_TRUE(crypto::equal_ct(initiator.symmetric().hash().data(),
                               responder.symmetric().hash().data(), 32));

  // Split: both sides agree; then transport messages alternate direction,
  // each direction with its own counter from 0, empty associated data.
  Secret<32> i_send, i_recv, r_recv, r_send;
  initiator.split(i_send, i_recv);
  responder.split(r_recv, r_send);
  ASSERT_TRUE(crypto::equal_ct(i_send.data(), r_recv.data(), 32));
  ASSERT_TRUE(crypto::equal_ct(i_recv.data(), r_send.data(), 32));

  std::uint64_t n_i2r = 0;
  std::uint64_t n_r2i = 0;
  for (std::size_t m = 2; m < std::size(kMessages); ++m) {
    const bool from_initiator = (m % 2) == 0;
    const auto payload = from_hex(kMessages[m].payload);
    const auto expected = from_hex(kMessages[m].ciphertext);
    const Secret<32>& send_key = from_initiator ? i_send : r_send;
    const Secret<32>& recv_key = from_initiator ? r_recv : i_recv;
    std::uint64_t& n = from_initiator ? n_i2r : n_r2i;

    std::vector<std::uint8_t> ct(payload.size() + crypto::kAeadTagLen);
    crypto::aead_seal(ct.data(), payload.data(), payload.size(), nullptr, 0, n, send_key.data());
    EXPECT_EQ(ct, expected) << "transport message " << m;
    std::vector<std::uint8_t> pt(payload.size());
    EXPECT_TRUE(crypto::aead_open(pt.data(), expected.data(), expected.size(), nullptr, 0, n,
                                  recv_key.data()));
    EXPECT_EQ(pt, payload) << "transport message " << m;
    ++n;
  }
}

// The same handshake with a wrong psk on one side fails at message 2.
TEST(NoiseVector, PskMismatchFailsMessage2) {
  const auto prologue = from_hex(kPrologue);
  const auto psk = array_from_hex<32>(kPsk);
  auto other_psk = psk;
  other_psk[0] ^= 1;
  const Secret<32> init_static = secret_from_hex(kInitStatic);
  const Secret<32> resp_static = secret_from_hex(kRespStatic);
  const auto init_static_pub = public_of(init_static);
  const auto resp_static_pub = public_of(resp_static);

  IkPsk2 initiator;
  IkPsk2 responder;
  initiator.initialize(IkPsk2::Role::kInitiator, kName, prologue, resp_static_pub);
  responder.initialize(IkPsk2::Role::kResponder, kName, prologue, resp_static_pub);
  std::vector<std::uint8_t> msg0(message_1_len(0));
  ASSERT_EQ(initiator.write_message_1(msg0, secret_from_hex(kInitEphemeral), init_static_pub,
                                      dh(init_static, resp_static_pub), {}),
            Status::kOk);
  ASSERT_EQ(responder.read_message_1_static(msg0, resp_static), Status::kOk);
  ASSERT_EQ(responder.read_message_1_payload(msg0, dh(resp_static, responder.remote_static()), {}),
            Status::kOk);
  std::vector<std::uint8_t> msg1(message_2_len(0));
  ASSERT_EQ(responder.write_message_2(msg1, secret_from_hex(kRespEphemeral), other_psk, {}),
            Status::kOk);
  EXPECT_EQ(initiator.read_message_2(msg1, init_static, psk, {}), Status::kAuthFailed);
}

TEST(NoiseVector, ShortProtocolNameIsPaddedNotHashed) {
  // Noise 5.2: a name of at most HASHLEN bytes is used directly, zero padded.
  SymmetricState s;
  s.initialize("Noise_NN_25519_ChaChaPoly_BLAKE2s");  // 33 bytes: hashed
  SymmetricState t;
  t.initialize("Noise_short");  // padded
  EXPECT_EQ(t.hash().span()[0], 'N');
  EXPECT_EQ(t.hash().span()[10], 't');
  EXPECT_EQ(t.hash().span()[11], 0);
  EXPECT_EQ(t.hash().span()[31], 0);
  EXPECT_NE(s.hash().span()[0], 'N');
  EXPECT_TRUE(crypto::equal_ct(t.hash().data(), t.chaining_key().data(), 32));
}

// WireGuard's first chaining key and hash (whitepaper 5.4.2):
// C = HASH(construction), H = HASH(C || identifier), as published by other
// implementations (e.g. rustyguard's CONSTRUCTION_HASH / IDENTIFIER_HASH).
TEST(NoiseVector, WireGuardInitialChainingKeyAndHash) {
  const std::array<std::uint8_t, 32> kConstructionHash = {
      96, 226, 109, 174, 243, 39,  239, 192, 46, 195, 53,  226, 160, 37,  210, 208,
      22, 235, 66,  6,   248, 114, 119, 245, 45, 56,  209, 152, 139, 120, 205, 54};
  const std::array<std::uint8_t, 32> kIdentifierHash = {
      34, 17,  179, 97,  8,  26,  197, 102, 105, 18,  67,  219, 69,  138, 213, 50,
      45, 156, 108, 102, 34, 147, 232, 183, 14,  225, 156, 101, 186, 7,   158, 243};
  constexpr std::string_view kIdentifier = "WireGuard v1 zx2c4 Jason@zx2c4.com";
  SymmetricState s;
  s.initialize(kName);
  EXPECT_TRUE(crypto::equal_ct(s.chaining_key().data(), kConstructionHash.data(), 32));
  s.mix_hash({reinterpret_cast<const std::uint8_t*>(kIdentifier.data()), kIdentifier.size()});
  EXPECT_TRUE(crypto::equal_ct(s.hash().data(), kIdentifierHash.data(), 32));
}

// mix_chaining_key is the first output of MixKey's HKDF alone: the same
// chaining key as mix_key (KDFn's first output does not depend on n), no
// cipher key, and a later mix_key derives the k that mix_key alone would.
TEST(NoiseVector, MixChainingKeyIsMixKeyWithoutTheCipherKey) {
  const auto ikm = array_from_hex<32>(kInitEphemeral);
  SymmetricState full;
  full.initialize(kName);
  full.mix_key(ikm);
  SymmetricState chain;
  chain.initialize(kName);
  chain.mix_chaining_key(ikm);
  EXPECT_TRUE(full.has_key());
  EXPECT_FALSE(chain.has_key());
  EXPECT_TRUE(crypto::equal_ct(full.chaining_key().data(), chain.chaining_key().data(), 32));
  // Both then mix the same key material and encrypt the same bytes alike.
  full.mix_key(ikm);
  chain.mix_key(ikm);
  const std::array<std::uint8_t, 4> plain = {1, 2, 3, 4};
  std::array<std::uint8_t, 4 + kTagLen> a{}, b{};
  full.encrypt_and_hash(a, plain);
  chain.encrypt_and_hash(b, plain);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(crypto::equal_ct(full.hash().data(), chain.hash().data(), 32));
}

}  // namespace
}  // namespace wghub::ctl::noise
