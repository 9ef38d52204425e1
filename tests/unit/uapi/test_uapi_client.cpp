// The client side of the wg(8) socket (control/uapi_client.hpp) that `wghub
// site` uses: a get reply parses back to the status the server formatted,
// keys survive hex, malformed replies are refused, and a real exchange with
// the server (a FakeBackend behind it, polled on a thread) gets, sets, names
// the serving pid and tells "no hub" apart from a broken exchange.
#include "control/uapi_client.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "control/uapi_server.hpp"
#include "tests/unit/uapi/fake_backend.hpp"

namespace wghub::ctl::uapi {
namespace {

PublicKey key(std::uint8_t fill) {
  PublicKey k{};
  k.fill(fill);
  k[31] = 0x01;
  return k;
}

TEST(UapiClient, GetReplyParsesBackToTheStatus) {
  DeviceStatus s;
  s.listen_port = 51820;
  PeerStatus a;
  a.public_key = key(0xab);
  a.endpoint = *config::Endpoint::parse("100.64.0.11:40000").value;
  a.last_handshake_sec = 1700000000;
  a.last_handshake_nsec = 5;
  a.rx_bytes = 1234;
  a.tx_bytes = 5678;
  a.persistent_keepalive = 25;
  a.allowed_ips = {*config::Prefix::parse("10.99.0.2/32").value,
                   *config::Prefix::parse("fd00:3::/64").value};
  PeerStatus b;
  b.public_key = key(0x01);
  b.endpoint = *config::Endpoint::parse("[2001:db8::7]:51820").value;
  s.peers = {a, b};

  std::string error;
  auto parsed = parse_get_reply(format_get(s), error);
  ASSERT_TRUE(parsed) << error;
  EXPECT_EQ(parsed->listen_port, 51820);
  ASSERT_EQ(parsed->peers.size(), 2u);
  const PeerStatus& p = parsed->peers[0];
  EXPECT_EQ(p.public_key, a.public_key);
  EXPECT_EQ(p.endpoint, a.endpoint);
  EXPECT_EQ(p.last_handshake_sec, a.last_handshake_sec);
  EXPECT_EQ(p.last_handshake_nsec, a.last_handshake_nsec);
  EXPECT_EQ(p.rx_bytes, a.rx_bytes);
  EXPECT_EQ(p.tx_bytes, a.tx_bytes);
  EXPECT_EQ(p.persistent_keepalive, 25);
  EXPECT_EQ(p.allowed_ips, a.allowed_ips);
  EXPECT_EQ(parsed->peers[1].endpoint, b.endpoint);
  EXPECT_TRUE(parsed->peers[1].allowed_ips.empty());
}

TEST(UapiClient, HexKeys) {
  const PublicKey k = key(0x5c);
  EXPECT_EQ(key_from_hex(key_to_hex(k)), k);
  EXPECT_FALSE(key_from_hex("00"));
  EXPECT_FALSE(key_from_hex(std::string(63, '0') + "g"));
}

TEST(UapiClient, MalformedRepliesAreRefused) {
  std::string error;
  EXPECT_FALSE(parse_get_reply("public_key=zz\nerrno=0\n\n", error));
  EXPECT_NE(error.find("bad value for public_key"), std::string::npos) << error;
  EXPECT_FALSE(parse_get_reply("public_key=" + key_to_hex(key(1)) + "\nrx_bytes=x\n\n", error));
  EXPECT_FALSE(parse_get_reply("garbage\n\n", error));
  EXPECT_NE(error.find("no '='"), std::string::npos) << error;
}

TEST(UapiClient, ExchangeWithTheServer) {
  const char* base = std::getenv("TMPDIR");
  std::string dir =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/wghub-uapi-client-XXXXXX";
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  test::FakeBackend backend;
  backend.listen_port = 51820;
  std::string error;
  auto server = Server::start({.interface_name = "clienttest0", .socket_dir = dir}, backend, error);
  ASSERT_NE(server, nullptr) << error;
  std::atomic<bool> stop{false};
  std::thread poller([&] {
    while (!stop.load()) {
      server->poll();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });

  const std::string path = server->socket_path();
  auto set = exchange(
      path, "set=1\npublic_key=" + key_to_hex(key(7)) + "\nallowed_ip=10.99.0.2/32\n\n", error);
  ASSERT_TRUE(set) << error;
  EXPECT_EQ(set->error, 0);
  EXPECT_EQ(set->server_pid, ::getpid());
  auto get = exchange(path, "get=1\n\n", error);
  ASSERT_TRUE(get) << error;
  auto status = parse_get_reply(get->text, error);
  ASSERT_TRUE(status) << error;
  ASSERT_EQ(status->peers.size(), 1u);
  EXPECT_EQ(status->peers[0].public_key, key(7));
  auto bad = exchange(path, "set=1\nfrobnicate=1\n\n", error);
  ASSERT_TRUE(bad) << error;
  EXPECT_EQ(bad->error, EINVAL);

  stop.store(true);
  poller.join();
  server->stop();
  bool no_server = false;
  EXPECT_FALSE(exchange(path, "get=1\n\n", error, &no_server));
  EXPECT_TRUE(no_server) << error;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace wghub::ctl::uapi
