// The wg(8) userspace API protocol (control/uapi.hpp): request framing, the
// set parser against valid and malformed tables, the get formatter against
// exact text, and a parse -> apply -> format round-trip through the fake
// backend. Protocol facts: https://www.wireguard.com/xplatform/ and
// wireguard-go device/uapi.go.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "control/uapi.hpp"
#include "tests/unit/uapi/fake_backend.hpp"

namespace wghub::ctl::uapi {
namespace {

const std::string kKeyA(64, 'a');  // aaaa...: a valid hex key
const std::string kKeyB = "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef";
const std::string kZero(64, '0');

PublicKey key_of(const std::string& hex) {
  SetRequest r;
  EXPECT_FALSE(parse_set("public_key=" + hex + "\n", r));
  return r.peers.at(0).public_key;
}

AllowedIp prefix(const char* text) {
  return *config::Prefix::parse(text).value;
}

// ---- framing ---------------------------------------------------------------

struct FrameCase {
  std::string buffer;
  FrameKind kind;
  std::size_t length;
  std::string body;
};

TEST(UapiFrame, Table) {
  const std::vector<FrameCase> cases = {
      {"", FrameKind::incomplete, 0, ""},
      {"g", FrameKind::incomplete, 0, ""},
      {"get=1", FrameKind::incomplete, 0, ""},
      {"get=1\n", FrameKind::incomplete, 0, ""},
      {"get=1\n\n", FrameKind::get, 7, ""},
      {"get=1\n\nget=1\n\n", FrameKind::get, 7, ""},
      {"get=1\nx", FrameKind::malformed, 0, ""},
      {"get=1\nlisten_port=1\n\n", FrameKind::malformed, 0, ""},
      {"get=2\n\n", FrameKind::malformed, 0, ""},
      {"GET=1\n\n", FrameKind::malformed, 0, ""},
      {"x", FrameKind::malformed, 0, ""},
      {"\n", FrameKind::malformed, 0, ""},
      {"get=10\n\n", FrameKind::malformed, 0, ""},
      {"set", FrameKind::incomplete, 0, ""},
      {"set=1\n", FrameKind::incomplete, 0, ""},
      {"set=1\n\n", FrameKind::set, 7, ""},
      {"set=1\na=b\n", FrameKind::incomplete, 0, ""},
      {"set=1\na=b\n\n", FrameKind::set, 11, "a=b\n"},
      {"set=1\na=b\nc=d\n\nget=1\n\n", FrameKind::set, 15, "a=b\nc=d\n"},
      {"set=1\r\n\r\n", FrameKind::malformed, 0, ""},
  };
  for (const auto& c : cases) {
    std::size_t scan = 0;
    const Frame f = frame_request(c.buffer, scan);
    EXPECT_EQ(f.kind, c.kind) << "buffer: " << testing::PrintToString(c.buffer);
    if (c.kind == FrameKind::get || c.kind == FrameKind::set) {
      EXPECT_EQ(f.length, c.length) << testing::PrintToString(c.buffer);
      EXPECT_EQ(std::string(f.body), c.body) << testing::PrintToString(c.buffer);
    }
  }
}

// Fed one byte at a time with a carried scan_from, the frame is found exactly
// when its last byte arrives, and not before.
TEST(UapiFrame, IncrementalScanFindsTheEndOnce) {
  const std::string request = "set=1\npublic_key=" + kKeyA + "\nallowed_ip=10.0.0.0/8\n\n";
  std::size_t scan = 0;
  for (std::size_t n = 0; n < request.size(); ++n) {
    const Frame f = frame_request(std::string_view(request).substr(0, n), scan);
    ASSERT_EQ(f.kind, FrameKind::incomplete) << "at " << n;
  }
  const Frame f = frame_request(request, scan);
  ASSERT_EQ(f.kind, FrameKind::set);
  EXPECT_EQ(f.length, request.size());
  EXPECT_EQ(scan, 0u);
}

// ---- set: valid ------------------------------------------------------------

TEST(UapiSet, EmptyBodyIsANoOp) {
  SetRequest r;
  ASSERT_FALSE(parse_set("", r));
  EXPECT_FALSE(r.private_key);
  EXPECT_FALSE(r.listen_port);
  EXPECT_FALSE(r.fwmark);
  EXPECT_FALSE(r.replace_peers);
  EXPECT_TRUE(r.peers.empty());
}

// What `wg setconf` sends (wireguard-tools ipc-uapi.h userspace_set_device).
TEST(UapiSet, FullRequestAsWgSendsIt) {
  const std::string body = "private_key=" + kKeyB +
                           "\n"
                           "listen_port=51820\n"
                           "fwmark=4660\n"
                           "replace_peers=true\n"
                           "public_key=" +
                           kKeyA +
                           "\n"
                           "preshared_key=" +
                           kKeyB +
                           "\n"
                           "endpoint=198.51.100.7:51821\n"
                           "persistent_keepalive_interval=25\n"
                           "replace_allowed_ips=true\n"
                           "allowed_ip=10.1.0.0/24\n"
                           "allowed_ip=fd00:1::/64\n"
                           "public_key=" +
                           kKeyB +
                           "\n"
                           "endpoint=[2001:db8::7]:51820\n"
                           "allowed_ip=-10.2.0.0/16\n"
                           "protocol_version=1\n"
                           "public_key=" +
                           kKeyA +
                           "\n"
                           "remove=true\n"
                           "public_key=" +
                           kKeyB +
                           "\n"
                           "update_only=true\n"
                           "preshared_key=" +
                           kZero + "\n";
  SetRequest r;
  const auto err = parse_set(body, r);
  ASSERT_FALSE(err) << err->message;
  ASSERT_TRUE(r.private_key);
  EXPECT_EQ(r.private_key->data()[0], 0x01);
  EXPECT_EQ(r.private_key->data()[8], 0x01);  // upper-case hex accepted
  EXPECT_EQ(r.private_key->data()[15], 0xef);
  EXPECT_EQ(r.listen_port, 51820);
  EXPECT_EQ(r.fwmark, 4660u);
  EXPECT_TRUE(r.replace_peers);
  ASSERT_EQ(r.peers.size(), 4u);

  const PeerChange& a = r.peers[0];
  EXPECT_EQ(a.public_key, key_of(kKeyA));
  EXPECT_FALSE(a.remove);
  EXPECT_FALSE(a.update_only);
  ASSERT_TRUE(a.preshared_key);
  EXPECT_FALSE(a.preshared_key->is_zero());
  ASSERT_TRUE(a.endpoint);
  EXPECT_EQ(a.endpoint->to_string(), "198.51.100.7:51821");
  EXPECT_EQ(a.persistent_keepalive, 25);
  EXPECT_TRUE(a.replace_allowed_ips);
  EXPECT_EQ(a.allowed_ips, (std::vector<AllowedIpChange>{{prefix("10.1.0.0/24"), false},
                                                         {prefix("fd00:1::/64"), false}}));

  const PeerChange& b = r.peers[1];
  EXPECT_EQ(b.public_key, key_of(kKeyB));
  EXPECT_EQ(b.endpoint->to_string(), "[2001:db8::7]:51820");
  EXPECT_FALSE(b.preshared_key);
  EXPECT_FALSE(b.persistent_keepalive);
  EXPECT_FALSE(b.replace_allowed_ips);
  EXPECT_EQ(b.allowed_ips, (std::vector<AllowedIpChange>{{prefix("10.2.0.0/16"), true}}));

  EXPECT_TRUE(r.peers[2].remove);
  EXPECT_TRUE(r.peers[3].update_only);
  ASSERT_TRUE(r.peers[3].preshared_key);
  EXPECT_TRUE(r.peers[3].preshared_key->is_zero());  // zero = remove the PSK
}

TEST(UapiSet, ValueEdges) {
  SetRequest r;
  ASSERT_FALSE(parse_set("listen_port=0\nfwmark=4294967295\nprivate_key=" + kZero + "\n", r));
  EXPECT_EQ(r.listen_port, 0);
  EXPECT_EQ(r.fwmark, 4294967295u);
  ASSERT_TRUE(r.private_key);
  EXPECT_TRUE(r.private_key->is_zero());  // zero = remove the private key

  ASSERT_FALSE(parse_set("listen_port=065535\n", r));  // leading zeros: Go ParseUint takes them
  EXPECT_EQ(r.listen_port, 65535);

  ASSERT_FALSE(parse_set("public_key=" + kKeyA +
                             "\npersistent_keepalive_interval=0\n"
                             "allowed_ip=0.0.0.0/0\nallowed_ip=::/0\n"
                             "allowed_ip=10.1.2.3/24\nallowed_ip=10.9.9.9/32\n",
                         r));
  EXPECT_EQ(r.peers[0].persistent_keepalive, 0);
  // Host bits are masked off as the kernel does.
  EXPECT_EQ(r.peers[0].allowed_ips, (std::vector<AllowedIpChange>{{prefix("0.0.0.0/0"), false},
                                                                  {prefix("::/0"), false},
                                                                  {prefix("10.1.2.0/24"), false},
                                                                  {prefix("10.9.9.9/32"), false}}));
}

// wireguard-go acts on lines in order: replace_allowed_ips drops what earlier
// allowed_ip lines of the block added.
TEST(UapiSet, ReplaceAllowedIpsDiscardsEarlierLines) {
  SetRequest r;
  ASSERT_FALSE(parse_set("public_key=" + kKeyA +
                             "\nallowed_ip=10.0.0.0/8\nreplace_allowed_ips=true\n"
                             "allowed_ip=10.1.0.0/16\n",
                         r));
  EXPECT_TRUE(r.peers[0].replace_allowed_ips);
  EXPECT_EQ(r.peers[0].allowed_ips, (std::vector<AllowedIpChange>{{prefix("10.1.0.0/16"), false}}));
}

// ---- set: malformed --------------------------------------------------------

TEST(UapiSet, MalformedTable) {
  const std::string peer = "public_key=" + kKeyA + "\n";
  const std::vector<std::string> bodies = {
      "listen_port\n",                           // no '='
      "=1\n",                                    // empty key
      "listen_port=\n",                          // empty value
      "listen_port=65536\n",                     // out of range
      "listen_port=-1\n",                        // sign
      "listen_port=+1\n",                        // sign
      "listen_port= 1\n",                        // space
      "listen_port=1 \n",                        // trailing space
      "listen_port=0x10\n",                      // hex
      "listen_port=99999999999999999999999\n",   // overflow
      "fwmark=4294967296\n",                     // out of range
      "replace_peers=false\n",                   // only "true"
      "replace_peers=TRUE\n",                    //
      "private_key=" + kKeyA.substr(1) + "\n",   // 63 digits
      "private_key=" + kKeyA + "a\n",            // 65 digits
      "private_key=" + kKeyA.substr(1) + "g\n",  // not hex
      "private_key=" + kKeyA.substr(1) + " \n",  //
      "bogus=1\n",                               // unknown device key
      "endpoint=1.2.3.4:5\n",                    // peer key before a public_key
      "allowed_ip=10.0.0.0/8\n",                 //
      "remove=true\n",                           //
      "public_key=\n",                           //
      "public_key=" + kKeyA.substr(2) + "\n",    //
      "public_key=" + kKeyA + "\r\n",            // CR is not part of the protocol
      peer + "listen_port=1\n",                  // device key after a peer
      peer + "replace_peers=true\n",             //
      peer + "private_key=" + kKeyA + "\n",      //
      peer + "bogus=1\n",                        // unknown peer key
      peer + "remove=false\n",                   //
      peer + "update_only=yes\n",                //
      peer + "replace_allowed_ips=1\n",          //
      peer + "protocol_version=2\n",             //
      peer + "protocol_version=\n",              //
      peer + "preshared_key=" + kKeyA.substr(1) + "\n",
      peer + "persistent_keepalive_interval=65536\n",
      peer + "persistent_keepalive_interval=-1\n",
      peer + "endpoint=\n",                      //
      peer + "endpoint=1.2.3.4\n",               // no port
      peer + "endpoint=1.2.3.4:0\n",             // port 0
      peer + "endpoint=1.2.3.4:65536\n",         //
      peer + "endpoint=example.com:51820\n",     // names are wg(8)'s job
      peer + "endpoint=2001:db8::1:51820\n",     // v6 without brackets
      peer + "endpoint=[2001:db8::1]\n",         //
      peer + "endpoint=[1.2.3.4]:1\n",           //
      peer + "endpoint=[fe80::1%eth0]:51820\n",  // scope ids unsupported
      peer + "allowed_ip=\n",                    //
      peer + "allowed_ip=-\n",                   //
      peer + "allowed_ip=10.0.0.0\n",            // length required (Go ParsePrefix)
      peer + "allowed_ip=10.0.0.0/33\n",         //
      peer + "allowed_ip=fd00::/129\n",          //
      peer + "allowed_ip=10.0.0.0/\n",           //
      peer + "allowed_ip=10.0.0.0/8/8\n",        //
      peer + "allowed_ip=10.0.0/8\n",            //
      peer + "allowed_ip=+10.0.0.0/8\n",         // '+' is wg(8) syntax, not protocol
      peer + "allowed_ip=--10.0.0.0/8\n",        //
      peer + "allowed_ip=10.0.0.0/-8\n",         //
      peer + "allowed_ip=10.0.0.0/8",            // no final newline
      peer + "\n",                               // blank line inside the body
  };
  for (const auto& body : bodies) {
    SetRequest r;
    const auto err = parse_set(body, r);
    ASSERT_TRUE(err) << "accepted: " << testing::PrintToString(body);
    EXPECT_EQ(err->error, EINVAL);
    EXPECT_GE(err->line, 1u);
    // Nothing half-parsed is left behind.
    EXPECT_TRUE(r.peers.empty());
    EXPECT_FALSE(r.private_key);
  }
}

// The message may be logged: it must not carry a value or an unknown key.
TEST(UapiSet, ErrorMessagesCarryNoRequestBytes) {
  const std::string secretish = "c0ffee" + std::string(57, '1');  // 63 digits
  SetRequest r;
  auto err = parse_set("private_key=" + secretish + "\n", r);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->message.find("c0ffee"), std::string::npos) << err->message;
  EXPECT_NE(err->message.find("private_key"), std::string::npos) << err->message;
  err = parse_set("c0ffee_" + std::string(64, '2') + "=1\n", r);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->message.find("c0ffee"), std::string::npos) << err->message;
  err = parse_set("public_key=" + kKeyA + "\npreshared_key=c0ffee\n", r);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->message.find("c0ffee"), std::string::npos) << err->message;
  EXPECT_EQ(err->line, 2u);
}

// ---- get -------------------------------------------------------------------

TEST(UapiGet, FormatsInWireguardGoOrderWithoutSecrets) {
  DeviceStatus s;
  s.listen_port = 51820;
  s.fwmark = 0x1234;
  PeerStatus a;
  a.public_key = key_of(kKeyA);
  a.endpoint = *config::Endpoint::parse("198.51.100.7:51821").value;
  a.last_handshake_sec = 1700000000;
  a.last_handshake_nsec = 123456789;
  a.rx_bytes = 1234567;
  a.tx_bytes = 7654321;
  a.persistent_keepalive = 25;
  a.allowed_ips = {prefix("10.1.0.0/24"), prefix("fd00:1::/64")};
  PeerStatus b;
  b.public_key = key_of(kKeyB);
  s.peers = {a, b};
  const std::string expected =
      "listen_port=51820\n"
      "fwmark=4660\n"
      "public_key=" +
      kKeyA +
      "\n"
      "protocol_version=1\n"
      "endpoint=198.51.100.7:51821\n"
      "last_handshake_time_sec=1700000000\n"
      "last_handshake_time_nsec=123456789\n"
      "tx_bytes=7654321\n"
      "rx_bytes=1234567\n"
      "persistent_keepalive_interval=25\n"
      "allowed_ip=10.1.0.0/24\n"
      "allowed_ip=fd00:1::/64\n"
      "public_key=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
      "protocol_version=1\n"
      "last_handshake_time_sec=0\n"
      "last_handshake_time_nsec=0\n"
      "tx_bytes=0\n"
      "rx_bytes=0\n"
      "persistent_keepalive_interval=0\n"
      "errno=0\n"
      "\n";
  EXPECT_EQ(format_get(s), expected);
}

TEST(UapiGet, EmptyDevice) {
  EXPECT_EQ(format_get(DeviceStatus{}), "errno=0\n\n");
}

TEST(UapiErrno, NegatedLikeWireguardGo) {
  EXPECT_EQ(format_errno(0), "errno=0\n\n");
  EXPECT_EQ(format_errno(EINVAL), "errno=-22\n\n");
  EXPECT_EQ(format_errno(EADDRINUSE), "errno=-98\n\n");
}

// ---- round trip through the fake backend -----------------------------------

int apply_text(test::FakeBackend& fake, const std::string& body) {
  SetRequest r;
  const auto err = parse_set(body, r);
  if (err) return err->error;
  return fake.set(r);
}

TEST(UapiRoundTrip, SetThenGet) {
  test::FakeBackend fake;
  ASSERT_EQ(apply_text(fake, "private_key=" + kKeyB + "\nlisten_port=51820\npublic_key=" + kKeyA +
                                 "\npreshared_key=" + kKeyB +
                                 "\nallowed_ip=10.1.0.0/24\nallowed_ip=10.2.0.0/24\n"
                                 "public_key=" +
                                 kKeyB + "\nallowed_ip=10.3.0.0/24\n"),
            0);
  EXPECT_TRUE(fake.has_private_key);
  ASSERT_EQ(fake.peers.size(), 2u);
  EXPECT_TRUE(fake.peers[0].has_preshared_key);

  // A prefix moves to the peer that names it last; "-CIDR" removes only the
  // named peer's own entry.
  ASSERT_EQ(apply_text(fake, "public_key=" + kKeyB +
                                 "\nallowed_ip=10.2.0.0/24\nallowed_ip=-10.1.0.0/24\n"),
            0);
  EXPECT_EQ(fake.peers[0].allowed_ips, (std::vector<AllowedIp>{prefix("10.1.0.0/24")}));
  EXPECT_EQ(fake.peers[1].allowed_ips,
            (std::vector<AllowedIp>{prefix("10.3.0.0/24"), prefix("10.2.0.0/24")}));

  // update_only never creates; remove removes; replace_peers starts over.
  const std::string keyc(64, 'c');
  ASSERT_EQ(apply_text(fake, "public_key=" + keyc + "\nupdate_only=true\nallowed_ip=10.9.0.0/16\n"),
            0);
  EXPECT_EQ(fake.peers.size(), 2u);
  ASSERT_EQ(apply_text(fake, "public_key=" + kKeyA + "\nremove=true\n"), 0);
  ASSERT_EQ(fake.peers.size(), 1u);
  EXPECT_EQ(fake.peers[0].public_key, key_of(kKeyB));

  const std::string text = format_get(fake.get());
  EXPECT_EQ(text.find("private_key"), std::string::npos);
  EXPECT_EQ(text.find("preshared_key"), std::string::npos);
  EXPECT_NE(text.find("public_key=" + std::string("0123456789abcdef")), std::string::npos);

  ASSERT_EQ(apply_text(fake, "replace_peers=true\npublic_key=" + keyc + "\n"), 0);
  ASSERT_EQ(fake.peers.size(), 1u);
  EXPECT_EQ(fake.peers[0].public_key, key_of(keyc));
}

}  // namespace
}  // namespace wghub::ctl::uapi
