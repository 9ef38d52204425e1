// ChaCha20-Poly1305 known answers on every path: RFC 8439 section 2.8.2 and
// a Wycheproof chacha20_poly1305_test.json subset (valid and forged tags)
// through the single-shot functions and every backend, one vector at a time
// and all in one mixed burst; XChaCha20-Poly1305 from
// draft-irtf-cfrg-xchacha-03 Appendix A.3.1; the IPsec-MB arch selection.
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <string>
#include <vector>

#include "crypto/aead.hpp"
#include "tests/unit/crypto/backends.hpp"
#include "tests/unit/crypto/hex.hpp"

namespace wghub::crypto {
namespace {

using test::all_backends;
using test::hex;
using test::split_nonce;
using test::unhex;

struct AeadVector {
  int tc_id;  // Wycheproof tcId (0: RFC 8439 2.8.2)
  const char* key;
  const char* iv;
  const char* aad;
  const char* msg;
  const char* ct;
  const char* tag;
  bool valid;
};

constexpr const char* kRfcKey = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
constexpr const char* kRfcMsg =
    "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a2049662049"
    "20636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f7220746865206675747572652c20"
    "73756e73637265656e20776f756c642062652069742e";

// RFC 8439 section 2.8.2 (identical to Wycheproof tcId 1).
constexpr AeadVector kRfc8439 = {
    0,
    kRfcKey,
    "070000004041424344454647",
    "50515253c0c1c2c3c4c5c6c7",
    kRfcMsg,
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92"
    "728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b"
    "4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
    "1ae10b594f09e26a7e902ecbd0600691",
    true};

constexpr const char* kKeyW = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
constexpr const char* kKeySeq = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr const char* kIvSeq = "000102030405060708090a0b";
constexpr const char* kMsg16 = "000102030405060708090a0b0c0d0e0f";
constexpr const char* kCt16 = "d03bcb3ca52d48d1d203b1e7b1a5995a";
constexpr const char* kMsg33 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
constexpr const char* kCt33 = "d03bcb3ca52d48d1d203b1e7b1a5995af1a0466a61bb386a2e12d189a2c4ea15e9";

// C2SP/wycheproof testvectors/chacha20_poly1305_test.json (0.8r12).
const AeadVector kWycheproof[] = {
    {1, kRfcKey, "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7", kRfcMsg, kRfc8439.ct,
     kRfc8439.tag, true},
    {2, "80ba3192c803ce965ea371d5ff073cf0f43b6a2ab576b208426e11409c09b9b0",
     "4da5bf8dfd5852c1ea12379d", "", "", "", "76acb342cf3166a5b63c0c0ea1383c8d", true},
    {3, "7a4cd759172e02eb204db2c3f5c746227df584fc1345196391dbb9577a250742",
     "a92ef0ac991dd516a3c6f689", "bd506764f2d2c410", "", "", "906fa6284b52f87b7359cbaa7563c709",
     true},
    {4, "cc56b680552eb75008f5484b4cb803fa5063ebd6eab91f6ab6aef4916a766273",
     "99e23ec48985bccdeeab60f1", "", "2a", "3a", "cac27dec0968801e9f6eded69d807522", true},
    {5, "46f0254965f769d52bdb4a70b443199f8ef207520d1220c55e4b70f0fda620ee",
     "ab0dca716ee051d2782f4403", "91ca6c592cbcca53", "51", "c4", "168310ca45b1f7c66cad4e99e43f72b9",
     true},
    {34, "59d4eafb4de0cfc7d3db99a8f54b15d7b39f0acc8da69763b019c1699f87674a",
     "2fcb1b38a99e71b84740ad9b", "", "549b365af913f3b081131ccb6b825588",
     "e9110e9f56ab3ca483500ceabab67a13", "836ccabf15a6a22a51c1071cfa68fa0c", true},
    {35, "b907a45075513fe8a8019edee3f2591487b2a030b03c6e1d771c862571d2ea1e",
     "118a6964c2d3e380071f5266", "034585621af8d7ff", "55a465644f5b650928cbee7c063214d6",
     "e4b113cb775945f3d3a8ae9ec141c00c", "7c43f16ce096d0dc27c95849dc383b7d", true},
    {36, "3b2458d8176e1621c0cc24c0c0e24c1e80d72f7ee9149a4b166176629616d011",
     "45aaa3e5d16d2d42dc03445d", "", "3ff1514b1c503915918f0c0c31094a6e1f",
     "02cc3acb5ee1fcdd12a03bb857976474d3", "d83b7463a2c3800fe958c28eaa290813", true},
    {101, kRfcKey, kIvSeq, "00000000000000000000000000000000",
     "65b63bf074b7283992e24b1ac0df0d22b555dbe2254d94a43f1de748d3cc6f0d20c142fe898fbbe668d4324394434"
     "c"
     "1b18b58ead710aed9c31db1f2a8a1f1bb24405c183af94ee1ad630cd931158a6213d48c8fff10d0a1f9ef760188e6"
     "5"
     "8802aad55e41a1d99069a18db55c56af7c10a6f21ecc8af9b7ce0a7ea0b67426e925",
     "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "000000000000000000000000000000000000000000000000000000000000000000000000",
     "9b5c43a78d954e8a3c659eebc13d5d55", true},
    {104, kRfcKey, kIvSeq, "ffffffffffffffffffffffffffffffff",
     "9a49c40f8b48d7c66d1db4e53f20f2dd4aaa241ddab26b5bc0e218b72c3390f2df3ebd0176704419972bcdbc6bbcb"
     "3"
     "e4e74a71528ef51263ce24e0d575e0e44dbbfa3e7c506b11e529cf326ceea759dec2b737000ef2f5e061089fe7719"
     "a"
     "77fd552aa1be5e266f965e724aa3a95083ef590de13375064831f5815f498bd916da",
     "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
     "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
     "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
     "51356329e280b12d55d3d98f0a580cbe", true},
    {107, kRfcKey, kIvSeq, "00000080000000800000008000000080",
     "65b63b7074b728b992e24b9ac0df0da2b555db62254d94243f1de7c8d3cc6f8d20c1427e898fbb6668d432c394434"
     "c"
     "9b18b58e2d710aed1c31db1faa8a1f1b324405c103af94ee9ad630cd131158a6a13d48c87ff10d0a9f9ef760988e6"
     "5"
     "8882aad55ec1a1d990e9a18db5dc56af7c90a6f21e4c8af9b74e0a7ea0367426e9a5",
     "00000080000000800000008000000080000000800000008000000080000000800000008000000080000000800000"
     "00800000008000000080000000800000008000000080000000800000008000000080000000800000008000000080"
     "000000800000008000000080000000800000008000000080000000800000008000000080",
     "ae9b542541e84fc74542eed6be638fee", true},
    {113, kRfcKey, kIvSeq, "ffffff7fffffff7fffffff7fffffff7f",
     "9a49c48f8b48d7466d1db4653f20f25d4aaa249ddab26bdbc0e218372c339072df3ebd8176704499972bcd3c6bbcb"
     "3"
     "64e74a71d28ef512e3ce24e05575e0e4cdbbfa3efc506b116529cf32eceea7595ec2b737800ef2f56061089f67719"
     "a"
     "777d552aa13e5e266f165e724a23a950836f590de1b3750648b1f5815fc98bd9165a",
     "ffffff7fffffff7fffffff7fffffff7fffffff7fffffff7fffffff7fffffff7fffffff7fffffff7fffffff7fffff"
     "ff7fffffff7fffffff7fffffff7fffffff7fffffff7fffffff7fffffff7fffffff7fffffff7fffffff7fffffff7f"
     "ffffff7fffffff7fffffff7fffffff7fffffff7fffffff7fffffff7fffffff7fffffff7f",
     "43f651ab2e2eb0f04bf689a40d32da24", true},
    {231, kKeySeq, "000102030405060710abb165", "ffffffff",
     "dc8ce708bf26aab862d97e1b42f31ef3ee83a14f48db696291080edfcc898b882b38aca2438b588d5459493e97e7f"
     "a"
     "338ad5f6b0283a8b39ebedce92785da9b65403478f2869b93ee29c837e95fb6b9986dffdbe0b56f66aa0e800cf88c"
     "f"
     "f372",
     "ffffffffffffffffffffffffffffffff9d447240c65082b3cb93632621ef0f6bfafffffffffffffffffffffffffff"
     "f"
     "ff7ad3b574439d5dbdb4844ceb6aab5d0afaffffffffffffffffffffffffffffff7ad3b574439d5dbdb4844ceb6aa"
     "b"
     "5d0a",
     "3572163b99284f5f3e4aa94dbab85677", true},
    {235, kKeySeq, "000102030405060710abb165", "ffffffff",
     "dc8ce708bf26aab862d97e1b42f31ef35db72f89d1402b1a0373ff0a9c5cd44b6d67af40798f5455501792953248e"
     "c"
     "234ca6bfd9ae5c25a3a4d8a62d48a61d53",
     "ffffffffffffffffffffffffffffffff2e70fc865fcbc0cb59e892f3713a50a8bca0fc1dc5fbf327fbb124545a50e"
     "9"
     "efbca0fc1dc5fbf327fbb124545a50e9ef",
     "0b4961c9525ea2f2cdad6273e1c7824c", true},
    {240, kKeySeq, "00010203040506072dd4cd40", "ffffffff",
     "43eadae036f733ea9b5b7eb22aee395db6f51a4d10bc2460810c229651556acf384ad82e3e280cad69f0df25b42b8"
     "3"
     "b0",
     "da047b7825db1802e8e8e1aac6ba88fc2ff2344b9e99ccdc04d8836d556083412ff2344b9e99ccdc04d8836d55608"
     "3"
     "41",
     "973e270a7afcab75348e14dbe19c5156", true},
    {246, kKeySeq, "00010203040506072dd4cd40", "ffffffff",
     "9064b88a282052a1ee44df05ad213da679f8d1f971da17437a2b5e04fbca167151b2650ec945fec70588bc65a616a"
     "5"
     "f24f354c0c1580af3662d5f8151e3f7e82dd557ec8a4d63df7274594367bef09cd",
     "098a19123b0c79499df7401d41758c07e0ffffffffffffffffffffffffffffff460a896b69f43eb668a0e02d475da"
     "5"
     "03e0ffffffffffffffffffffffffffffff460a896b69f43eb668a0e02d475da503",
     "ce8a3d4d887d95613d829b538ed01196", true},
    {281, kKeySeq, "000102030405060703e76f6f", "ffffffff",
     "31de9b9ec8b247d42bbee2016d6715baff746ef53ec3357cbc3c3ce4ab1d2d51ed9eb456dc9d9b59f656a5d2d974d"
     "2"
     "6a7b8e903e4e8a4cac3e1dffce07c38f05",
     "d1ffffffffffffffffffffffffffffff42011449d50c2059156106c7c0a9b808dc91fbff818ca8f7daa162cb66ea7"
     "3"
     "81dc91fbff818ca8f7daa162cb66ea7381",
     "8cff61b7b3919ed6bde72b36e0d31326", true},
    // The genuine tags of the two forged-tag families below (quoted in
    // their comments as "expected tag").
    {157, kKeyW, kIvSeq, "000102", kMsg16, kCt16, "29914007a6119dd3f109bba21ce9a7d6", true},
    {163, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a16e8b44eba92aa47f5cea52b7a", true},
    // Forged tags: flipped bits, all zero, all one. Must not open.
    {157, kKeyW, kIvSeq, "000102", kMsg16, kCt16, "29914007a6119dd3f109bba21ce9a7d4", false},
    {158, kKeyW, kIvSeq, "000102", kMsg16, kCt16, "29914007a6119dd3f109bba21ce9a796", false},
    {159, kKeyW, kIvSeq, "000102", kMsg16, kCt16, "29914007a6119dd3f109bba21ce9a756", false},
    {160, kKeyW, kIvSeq, "000102", kMsg16, kCt16, "29914007a6119d53f109bba21ce9a756", false},
    {161, kKeyW, kIvSeq, "000102", kMsg16, kCt16, "00000000000000000000000000000000", false},
    {162, kKeyW, kIvSeq, "000102", kMsg16, kCt16, "ffffffffffffffffffffffffffffffff", false},
    {163, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "67405a16e8b44eba92aa47f5cea52b7a", false},
    {164, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "64405a16e8b44eba92aa47f5cea52b7a", false},
    {165, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "e6405a16e8b44eba92aa47f5cea52b7a", false},
    {166, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66415a16e8b44eba92aa47f5cea52b7a", false},
    {167, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a96e8b44eba92aa47f5cea52b7a", false},
    {168, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a16e9b44eba92aa47f5cea52b7a", false},
    {169, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a16eab44eba92aa47f5cea52b7a", false},
    {170, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a16e8b44e3a92aa47f5cea52b7a", false},
    {171, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a16e8b44eba93aa47f5cea52b7a", false},
    {172, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a16e8b44eba928a47f5cea52b7a", false},
    {173, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a16e8b44eba92aa46f5cea52b7a", false},
    {174, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a16e8b44eba92aa47f5cfa52b7a", false},
    {175, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a16e8b44eba92aa47f5cca52b7a", false},
    {176, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a16e8b44eba92aa47f5cea52b7b", false},
    {177, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a16e8b44eba92aa47f5cea52b78", false},
    {178, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a16e8b44eba92aa47f5cea52b3a", false},
    {179, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a16e8b44eba92aa47f5cea52bfa", false},
    {180, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "66405a16e8b44e3a92aa47f5cea52bfa", false},
    {181, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "00000000000000000000000000000000", false},
    {182, kKeyW, kIvSeq, "000102", kMsg33, kCt33, "ffffffffffffffffffffffffffffffff", false},
};

// One vector decoded; buffers an AeadOp can point into.
struct Decoded {
  explicit Decoded(const AeadVector& v)
      : key(unhex(v.key)),
        iv(unhex(v.iv)),
        aad(unhex(v.aad)),
        msg(unhex(v.msg)),
        ct(unhex(v.ct)),
        tag(unhex(v.tag)) {}
  std::vector<std::uint8_t> key, iv, aad, msg, ct, tag;
};

void check_single_shot(const AeadVector& v) {
  SCOPED_TRACE("tcId " + std::to_string(v.tc_id) + (v.valid ? " valid" : " forged"));
  const Decoded d(v);
  ASSERT_EQ(d.key.size(), kAeadKeyLen);
  ASSERT_EQ(d.iv.size(), kAeadNonceLen);
  ASSERT_EQ(d.ct.size(), d.msg.size());
  ASSERT_EQ(d.tag.size(), kAeadTagLen);
  if (v.valid) {
    std::vector<std::uint8_t> sealed(d.msg.size() + kAeadTagLen);
    aead_seal_nonce(sealed.data(), d.msg.data(), d.msg.size(), d.aad.data(), d.aad.size(),
                    d.iv.data(), d.key.data());
    EXPECT_EQ(hex(sealed), hex(d.ct) + hex(d.tag));
  }
  std::vector<std::uint8_t> in = d.ct;
  in.insert(in.end(), d.tag.begin(), d.tag.end());
  std::vector<std::uint8_t> opened(d.ct.size() + 1);
  const bool ok = aead_open_nonce(opened.data(), in.data(), in.size(), d.aad.data(), d.aad.size(),
                                  d.iv.data(), d.key.data());
  EXPECT_EQ(ok, v.valid);
  if (ok) {
    EXPECT_EQ(hex(std::span(opened).first(d.msg.size())), hex(d.msg));
  }
}

// Runs `vectors` through `backend` as one burst (seal for the valid ones,
// then open for all) and checks every op's result and bytes.
void check_backend_burst(AeadBackend& backend, std::span<const AeadVector> vectors) {
  SCOPED_TRACE(std::string(backend.name()));
  std::vector<Decoded> dec;
  dec.reserve(vectors.size());
  for (const auto& v : vectors) dec.emplace_back(v);

  // Seal the valid vectors in one burst.
  std::vector<std::vector<std::uint8_t>> data(vectors.size());
  std::vector<std::array<std::uint8_t, kAeadTagLen>> tags(vectors.size());
  std::vector<AeadOp> ops;
  std::vector<std::size_t> index;
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    if (!vectors[i].valid) continue;
    data[i] = dec[i].msg;
    AeadOp op;
    op.key = dec[i].key.data();
    split_nonce(dec[i].iv.data(), op.nonce_prefix, op.counter);
    op.data = data[i].data();
    op.len = static_cast<std::uint32_t>(data[i].size());
    op.tag = tags[i].data();
    op.ad = dec[i].aad.data();
    op.ad_len = static_cast<std::uint32_t>(dec[i].aad.size());
    ops.push_back(op);
    index.push_back(i);
  }
  backend.seal_burst(ops);
  for (std::size_t j = 0; j < ops.size(); ++j) {
    const std::size_t i = index[j];
    SCOPED_TRACE("seal tcId " + std::to_string(vectors[i].tc_id));
    EXPECT_TRUE(ops[j].ok);
    EXPECT_EQ(hex(data[i]), hex(dec[i].ct));
    EXPECT_EQ(hex(tags[i]), hex(dec[i].tag));
  }

  // Open everything, valid and forged interleaved, in one burst.
  ops.clear();
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    data[i] = dec[i].ct;
    std::copy(dec[i].tag.begin(), dec[i].tag.end(), tags[i].begin());
    AeadOp op;
    op.key = dec[i].key.data();
    split_nonce(dec[i].iv.data(), op.nonce_prefix, op.counter);
    op.data = data[i].data();
    op.len = static_cast<std::uint32_t>(data[i].size());
    op.tag = tags[i].data();
    op.ad = dec[i].aad.data();
    op.ad_len = static_cast<std::uint32_t>(dec[i].aad.size());
    op.ok = !vectors[i].valid;  // the backend must overwrite it
    ops.push_back(op);
  }
  backend.open_burst(ops);
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    SCOPED_TRACE("open tcId " + std::to_string(vectors[i].tc_id));
    EXPECT_EQ(ops[i].ok, vectors[i].valid);
    if (vectors[i].valid) {
      EXPECT_EQ(hex(data[i]), hex(dec[i].msg));
    }
  }
}

TEST(Aead, Rfc8439Section282SingleShot) {
  check_single_shot(kRfc8439);
}

TEST(Aead, Rfc8439Section282NonceLayout) {
  // The RFC's nonce is constant 07 00 00 00 then IV 40..47: our nonce is
  // prefix (LE32) then counter (LE64), so prefix 7 and counter
  // 0x4746454443424140 must give exactly those bytes.
  std::uint8_t nonce[kAeadNonceLen];
  make_aead_nonce(nonce, 0x4746454443424140ULL, 7);
  EXPECT_EQ(hex(nonce), "070000004041424344454647");
  // WireGuard (whitepaper 5.4.6): 4 zero bytes, counter little endian.
  make_aead_nonce(nonce, 0x0102030405060708ULL);
  EXPECT_EQ(hex(nonce), "000000000807060504030201");
}

TEST(Aead, Rfc8439Section282EveryBackend) {
  for (auto& backend : test::all_backends()) check_backend_burst(*backend, {&kRfc8439, 1});
}

TEST(Aead, WireguardApiIsTheCounterNonce) {
  // aead_seal/aead_open(counter) == the RFC 8439 functions with nonce
  // 00000000 || LE64(counter); checked against the RFC vector's key/text.
  const auto key = unhex(kRfcKey);
  const auto msg = unhex(kRfcMsg);
  const auto ad = unhex("50515253c0c1c2c3c4c5c6c7");
  const std::uint64_t counter = 0x0123456789abcdefULL;
  std::vector<std::uint8_t> a(msg.size() + kAeadTagLen), b(msg.size() + kAeadTagLen);
  aead_seal(a.data(), msg.data(), msg.size(), ad.data(), ad.size(), counter, key.data());
  std::uint8_t nonce[kAeadNonceLen];
  make_aead_nonce(nonce, counter);
  aead_seal_nonce(b.data(), msg.data(), msg.size(), ad.data(), ad.size(), nonce, key.data());
  EXPECT_EQ(hex(a), hex(b));

  std::vector<std::uint8_t> out(msg.size());
  ASSERT_TRUE(aead_open(out.data(), a.data(), a.size(), ad.data(), ad.size(), counter, key.data()));
  EXPECT_EQ(hex(out), hex(msg));
  EXPECT_FALSE(
      aead_open(out.data(), a.data(), a.size(), ad.data(), ad.size(), counter + 1, key.data()));
  EXPECT_FALSE(aead_open(out.data(), a.data(), kAeadTagLen - 1, nullptr, 0, counter, key.data()));

  // In place, as the handshake does it.
  std::vector<std::uint8_t> buf = msg;
  buf.resize(msg.size() + kAeadTagLen);
  aead_seal(buf.data(), buf.data(), msg.size(), ad.data(), ad.size(), counter, key.data());
  EXPECT_EQ(hex(buf), hex(a));
  ASSERT_TRUE(
      aead_open(buf.data(), buf.data(), buf.size(), ad.data(), ad.size(), counter, key.data()));
  EXPECT_EQ(hex(std::span(buf).first(msg.size())), hex(msg));
}

TEST(Aead, WycheproofSingleShot) {
  for (const auto& v : kWycheproof) check_single_shot(v);
}

TEST(Aead, WycheproofEveryBackendOneBurst) {
  for (auto& backend : test::all_backends()) check_backend_burst(*backend, kWycheproof);
}

TEST(Aead, WycheproofEveryBackendOneAtATime) {
  for (auto& backend : test::all_backends()) {
    for (const auto& v : kWycheproof) check_backend_burst(*backend, {&v, 1});
  }
}

TEST(XAead, DraftXchacha03AppendixA31) {
  const auto key = unhex(kRfcKey);
  const auto nonce = unhex("404142434445464748494a4b4c4d4e4f5051525354555657");
  const auto aad = unhex("50515253c0c1c2c3c4c5c6c7");
  const auto msg = unhex(kRfcMsg);
  const std::string expected =
      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda"
      "7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b23835"
      "65d3fff921f9664c97637da9768812f615c68b13b52e"
      "c0875924c1c7987947deafd8780acf49";
  ASSERT_EQ(nonce.size(), kXNonceLen);
  std::vector<std::uint8_t> sealed(msg.size() + kAeadTagLen);
  xaead_seal(sealed.data(), msg.data(), msg.size(), aad.data(), aad.size(), nonce.data(),
             key.data());
  EXPECT_EQ(hex(sealed), expected);

  std::vector<std::uint8_t> opened(msg.size());
  ASSERT_TRUE(xaead_open(opened.data(), sealed.data(), sealed.size(), aad.data(), aad.size(),
                         nonce.data(), key.data()));
  EXPECT_EQ(hex(opened), hex(msg));

  for (std::size_t bit :
       {std::size_t{0}, std::size_t{7}, std::size_t{8 * 57}, 8 * sealed.size() - 1}) {
    auto forged = sealed;
    forged[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(xaead_open(opened.data(), forged.data(), forged.size(), aad.data(), aad.size(),
                            nonce.data(), key.data()))
        << "bit " << bit;
  }
  EXPECT_FALSE(xaead_open(opened.data(), sealed.data(), sealed.size(), aad.data(), aad.size() - 1,
                          nonce.data(), key.data()));
  EXPECT_FALSE(xaead_open(opened.data(), sealed.data(), kAeadTagLen - 1, aad.data(), aad.size(),
                          nonce.data(), key.data()));
}

// Restores WGHUB_IMB_ARCH when a test that sets it ends.
class ImbArchEnv {
 public:
  ImbArchEnv() {
    if (const char* v = std::getenv("WGHUB_IMB_ARCH")) saved_ = v, had_ = true;
  }
  ~ImbArchEnv() {
    if (had_) {
      setenv("WGHUB_IMB_ARCH", saved_.c_str(), 1);
    } else {
      unsetenv("WGHUB_IMB_ARCH");
    }
  }

 private:
  std::string saved_;
  bool had_ = false;
};

TEST(IpsecMb, ArchSelection) {
  const auto arches = ipsecmb_supported_arches();
  std::string list;
  for (auto a : arches) list += std::string(to_string(a)) + " ";
  std::printf("IPsec-MB arches supported by this CPU: %s\n", list.c_str());
  if (arches.empty()) GTEST_SKIP() << "this CPU runs no IPsec-MB arch";

  ImbArchEnv restore;
  unsetenv("WGHUB_IMB_ARCH");
  auto best = make_ipsecmb_backend();
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(best->name(), "ipsec-mb/" + std::string(to_string(arches.back())));
  EXPECT_EQ(make_best_backend()->name(), best->name());

  for (auto a : arches) {
    setenv("WGHUB_IMB_ARCH", std::string(to_string(a)).c_str(), 1);
    auto forced = make_ipsecmb_backend();
    ASSERT_NE(forced, nullptr) << to_string(a);
    EXPECT_EQ(forced->name(), "ipsec-mb/" + std::string(to_string(a)));
  }
  setenv("WGHUB_IMB_ARCH", "pentium", 1);
  EXPECT_EQ(make_ipsecmb_backend(), nullptr);
  EXPECT_EQ(make_best_backend()->name(), "libsodium");  // the fallback
}

}  // namespace
}  // namespace wghub::crypto
