// The wg(8) userspace API socket server (control/uapi_server.hpp) in a
// scratch directory: socket modes, live/stale/foreign files at the path,
// partial reads and writes, several clients, pipelining, the size limit,
// malformed requests, eviction, and poll() never blocking. Waits are bounded
// by a number of poll() rounds, never by time.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "control/uapi_server.hpp"
#include "tests/unit/uapi/fake_backend.hpp"

namespace wghub::ctl::uapi {
namespace {

constexpr int kMaxRounds = 20000;  // poll() rounds before a wait gives up

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/wghub-uapi-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A test-side connection: blocking connect, non-blocking reads.
class Conn {
 public:
  explicit Conn(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Conn() { close(); }
  bool connected() const { return connected_; }
  void send(const std::string& s) {
    ASSERT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Reads what is there; false once the server closed the connection.
  bool pump() {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        received_.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0) {
        closed_ = true;
        return false;
      } else {
        return true;  // EAGAIN
      }
    }
  }
  std::string& received() { return received_; }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string received_;
};

// Count of complete replies (each ends in "errno=N\n\n").
std::size_t replies_in(const std::string& s) {
  std::size_t n = 0;
  for (std::size_t pos = 0; (pos = s.find("errno=", pos)) != std::string::npos; ++pos) {
    if ((pos == 0 || s[pos - 1] == '\n') && s.find("\n\n", pos) != std::string::npos) ++n;
  }
  return n;
}

// Polls the server until `c` holds `count` replies or was closed.
void wait_replies(Server& server, Conn& c, std::size_t count) {
  for (int i = 0; i < kMaxRounds; ++i) {
    server.poll();
    c.pump();
    if (replies_in(c.received()) >= count || c.closed()) return;
  }
}

void wait_closed(Server& server, Conn& c) {
  for (int i = 0; i < kMaxRounds && !c.closed(); ++i) {
    server.poll();
    c.pump();
  }
}

const std::string kKeyA(64, 'a');
const std::string kKeyB(64, 'b');

class UapiServer : public testing::Test {
 protected:
  void SetUp() override {
    options_.interface_name = "wgtest0";
    options_.socket_dir = dir_.path() + "/run/wireguard";
    fake_.listen_port = 51820;
  }
  std::unique_ptr<Server> start() {
    std::string error;
    auto s = Server::start(options_, fake_, error);
    EXPECT_TRUE(s) << error;
    return s;
  }
  std::string path() const { return options_.socket_dir + "/wgtest0.sock"; }

  TempDir dir_;
  Server::Options options_;
  test::FakeBackend fake_;
};

TEST_F(UapiServer, CreatesTheSocket0600InA0755Directory) {
  const mode_t old = ::umask(0);  // the server must not rely on the umask
  auto server = start();
  ::umask(old);
  ASSERT_TRUE(server);
  EXPECT_EQ(server->socket_path(), path());
  struct stat st {};
  ASSERT_EQ(::stat(options_.socket_dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::lstat(path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_TRUE(server->socket_still_ours());
}

TEST_F(UapiServer, GetAndSet) {
  auto server = start();
  Conn c(path());
  ASSERT_TRUE(c.connected());
  c.send("get=1\n\n");
  wait_replies(*server, c, 1);
  EXPECT_EQ(c.received(), "listen_port=51820\nerrno=0\n\n");

  c.received().clear();
  c.send("set=1\nlisten_port=51999\npublic_key=" + kKeyA + "\nallowed_ip=10.1.0.0/24\n\n");
  wait_replies(*server, c, 1);
  EXPECT_EQ(c.received(), "errno=0\n\n");
  EXPECT_EQ(fake_.listen_port, 51999);
  ASSERT_EQ(fake_.peers.size(), 1u);
  EXPECT_FALSE(c.closed());  // a connection may carry more requests
}

TEST_F(UapiServer, BackendErrorIsReturnedNegated) {
  auto server = start();
  fake_.fail_set_with = EADDRINUSE;
  Conn c(path());
  c.send("set=1\nlisten_port=1\n\n");
  wait_replies(*server, c, 1);
  EXPECT_EQ(c.received(), "errno=-98\n\n");
}

TEST_F(UapiServer, RequestArrivingByteByByte) {
  auto server = start();
  Conn c(path());
  const std::string req = "set=1\npublic_key=" + kKeyA + "\nendpoint=192.0.2.1:51820\n\n";
  for (std::size_t i = 0; i + 1 < req.size(); ++i) {
    c.send(req.substr(i, 1));
    for (int k = 0; k < 3; ++k) server->poll();
    c.pump();
    ASSERT_TRUE(c.received().empty()) << "replied after " << i + 1 << " bytes";
  }
  EXPECT_EQ(fake_.set_calls, 0);
  c.send(req.substr(req.size() - 1));
  wait_replies(*server, c, 1);
  EXPECT_EQ(c.received(), "errno=0\n\n");
  EXPECT_EQ(fake_.set_calls, 1);
}

TEST_F(UapiServer, PipelinedRequestsAnsweredInOrder) {
  auto server = start();
  Conn c(path());
  c.send("get=1\n\nset=1\nlisten_port=2\n\nget=1\n\n");
  wait_replies(*server, c, 3);
  EXPECT_EQ(c.received(), "listen_port=51820\nerrno=0\n\nerrno=0\n\nlisten_port=2\nerrno=0\n\n");
}

TEST_F(UapiServer, SeveralClientsInterleaved) {
  auto server = start();
  Conn a(path());
  Conn b(path());
  const std::string req_a = "set=1\npublic_key=" + kKeyA + "\n\n";
  a.send(req_a.substr(0, 20));
  b.send("get=1\n\n");
  wait_replies(*server, b, 1);
  EXPECT_EQ(b.received(), "listen_port=51820\nerrno=0\n\n");
  a.pump();
  EXPECT_TRUE(a.received().empty());
  a.send(req_a.substr(20));
  wait_replies(*server, a, 1);
  EXPECT_EQ(a.received(), "errno=0\n\n");
  b.received().clear();
  b.send("get=1\n\n");
  wait_replies(*server, b, 1);
  EXPECT_NE(b.received().find("public_key=" + kKeyA), std::string::npos);
  EXPECT_EQ(server->client_count(), 2u);
}

TEST_F(UapiServer, MalformedRequestGetsEinvalAndIsClosed) {
  const std::vector<std::string> requests = {
      "hello\n\n",
      "get=1\nx\n",
      "set=1\nlisten_port=65536\n\n",
      "set=1\npublic_key=" + kKeyA + "\nbogus=1\n\n",
      std::string("set=1\nlisten_port=1\n\0\n\n", 23),  // NUL inside
  };
  auto server = start();
  for (const auto& req : requests) {
    Conn c(path());
    c.send(req);
    wait_closed(*server, c);
    EXPECT_TRUE(c.closed()) << testing::PrintToString(req);
    EXPECT_EQ(c.received(), "errno=-22\n\n") << testing::PrintToString(req);
  }
  EXPECT_EQ(fake_.set_calls, 0);
  EXPECT_EQ(fake_.listen_port, 51820);
  EXPECT_EQ(server->client_count(), 0u);
}

// A set is all or nothing at the parser: an error on a late line applies
// none of the earlier ones.
TEST_F(UapiServer, InvalidSetAppliesNothing) {
  auto server = start();
  Conn c(path());
  c.send("set=1\nlisten_port=1\npublic_key=" + kKeyA + "\nallowed_ip=10.0.0.0/33\n\n");
  wait_closed(*server, c);
  EXPECT_EQ(c.received(), "errno=-22\n\n");
  EXPECT_EQ(fake_.listen_port, 51820);
  EXPECT_TRUE(fake_.peers.empty());
}

TEST_F(UapiServer, OversizedRequestRefused) {
  options_.max_request_bytes = 1024;
  auto server = start();
  Conn c(path());
  std::string req = "set=1\n";
  while (req.size() < 4096) req += "public_key=" + kKeyA + "\n";
  c.send(req);  // fits the socket buffer; no terminator needed to be refused
  wait_closed(*server, c);
  EXPECT_EQ(c.received(), "errno=-" + std::to_string(EMSGSIZE) + "\n\n");
  EXPECT_EQ(fake_.set_calls, 0);

  // Just under the limit is fine.
  Conn d(path());
  std::string ok = "set=1\n";
  while (ok.size() + 76 + 1 <= 1024) ok += "public_key=" + kKeyA + "\n";
  ok += "\n";
  ASSERT_LE(ok.size(), 1024u);
  d.send(ok);
  wait_replies(*server, d, 1);
  EXPECT_EQ(d.received(), "errno=0\n\n");
}

TEST_F(UapiServer, HalfClosedClientStillGetsItsReply) {
  auto server = start();
  Conn c(path());
  c.send("get=1\n\n");
  c.shutdown_write();
  wait_closed(*server, c);
  EXPECT_EQ(c.received(), "listen_port=51820\nerrno=0\n\n");
}

TEST_F(UapiServer, ClientLeavingMidRequestGetsNothing) {
  auto server = start();
  Conn c(path());
  c.send("set=1\nlisten_port=7\n");
  c.shutdown_write();
  wait_closed(*server, c);
  EXPECT_TRUE(c.received().empty());
  EXPECT_EQ(fake_.set_calls, 0);
  EXPECT_EQ(server->client_count(), 0u);
}

// A reply far bigger than the socket buffer to a client that does not read:
// poll() keeps returning (this test would hang otherwise), and the client
// gets every byte once it reads.
TEST_F(UapiServer, SlowReaderNeverBlocksTheServer) {
  for (int i = 0; i < 20000; ++i) {
    test::FakeBackend::Peer p;
    p.public_key[0] = static_cast<std::uint8_t>(i);
    p.public_key[1] = static_cast<std::uint8_t>(i >> 8);
    p.allowed_ips.push_back(
        config::Prefix::from(config::IpAddress::v4(10, static_cast<std::uint8_t>(i >> 8),
                                                   static_cast<std::uint8_t>(i), 0),
                             24));
    fake_.peers.push_back(p);
  }
  const std::string expected = format_get(fake_.get());
  ASSERT_GT(expected.size(), 4u << 20);
  auto server = start();
  Conn c(path());
  c.send("get=1\n\n");
  for (int i = 0; i < 100; ++i) server->poll();  // returns although nobody reads
  Conn other(path());
  other.send("get=1\n\n");
  wait_replies(*server, other, 1);  // others are served meanwhile
  EXPECT_EQ(other.received().size(), expected.size());
  wait_replies(*server, c, 1);
  EXPECT_EQ(c.received(), expected);
}

// A get of many peers goes out a slice per poll (the control thread never
// formats 10^5 peers in one go); a request behind it waits its turn, and
// the reply is byte for byte the one-piece format_get.
TEST_F(UapiServer, GetIsWrittenASliceOfPeersPerPoll) {
  for (int i = 0; i < 5000; ++i) {
    test::FakeBackend::Peer p;
    p.public_key[0] = static_cast<std::uint8_t>(i);
    p.public_key[1] = static_cast<std::uint8_t>(i >> 8);
    p.rx_bytes = static_cast<std::uint64_t>(i) * 1000;
    fake_.peers.push_back(p);
  }
  const std::string expected = format_get(fake_.get());
  options_.get_slice_peers = 64;  // ~15 KB a slice: each fits the socket buffer
  auto server = start();
  Conn c(path());
  c.send("get=1\n\nset=1\nfwmark=7\n\n");
  for (int i = 0; i < 3 && fake_.slices.empty(); ++i) server->poll();
  ASSERT_EQ(fake_.slices.size(), 1u);  // one poll, one slice
  c.pump();
  server->poll();
  EXPECT_EQ(fake_.slices.size(), 2u);
  EXPECT_EQ(fake_.set_calls, 0);  // the set waits for the whole get
  wait_replies(*server, c, 2);
  EXPECT_EQ(c.received(), expected + "errno=0\n\n");
  EXPECT_EQ(fake_.fwmark, 7u);
  ASSERT_EQ(fake_.slices.size(), 79u);  // 78 x 64 + 8
  for (std::size_t n : fake_.slices) EXPECT_LE(n, 64u);
}

TEST_F(UapiServer, ClientHangingUpMidReplyIsDropped) {
  for (int i = 0; i < 20000; ++i) {
    test::FakeBackend::Peer p;
    p.public_key[0] = static_cast<std::uint8_t>(i);
    p.public_key[1] = static_cast<std::uint8_t>(i >> 8);
    fake_.peers.push_back(p);
  }
  auto server = start();
  {
    Conn c(path());
    c.send("get=1\n\n");
    for (int i = 0; i < 5; ++i) server->poll();
    EXPECT_EQ(server->client_count(), 1u);
  }  // closes with most of the reply unsent: no SIGPIPE, the client goes
  for (int i = 0; i < 100 && server->client_count() != 0; ++i) server->poll();
  EXPECT_EQ(server->client_count(), 0u);
}

TEST_F(UapiServer, FullServerClosesTheLeastRecentlyActiveClient) {
  options_.max_clients = 2;
  auto server = start();
  Conn idle(path());
  for (int i = 0; i < 5; ++i) server->poll();
  Conn busy(path());
  busy.send("get=1\n\n");
  wait_replies(*server, busy, 1);
  ASSERT_EQ(server->client_count(), 2u);
  Conn fresh(path());
  fresh.send("get=1\n\n");
  wait_replies(*server, fresh, 1);
  EXPECT_EQ(fresh.received(), "listen_port=51820\nerrno=0\n\n");
  idle.pump();
  EXPECT_TRUE(idle.closed());
  busy.pump();
  EXPECT_FALSE(busy.closed());
  EXPECT_EQ(server->client_count(), 2u);
}

TEST_F(UapiServer, RefusesASocketAnotherProcessServes) {
  auto first = start();
  ASSERT_TRUE(first);
  test::FakeBackend other;
  std::string error;
  auto second = Server::start(options_, other, error);
  EXPECT_FALSE(second);
  EXPECT_NE(error.find("another process is serving"), std::string::npos) << error;
  EXPECT_NE(error.find(path()), std::string::npos) << error;
  // The first one is untouched and still answers.
  Conn c(path());
  c.send("get=1\n\n");
  wait_replies(*first, c, 1);
  EXPECT_EQ(c.received(), "listen_port=51820\nerrno=0\n\n");
}

TEST_F(UapiServer, ReplacesAStaleSocket) {
  std::filesystem::create_directories(options_.socket_dir);
  {
    // Bound and closed without unlink: what a crashed process leaves.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path().c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  ASSERT_TRUE(std::filesystem::is_socket(path()));
  auto server = start();
  ASSERT_TRUE(server);
  Conn c(path());
  c.send("get=1\n\n");
  wait_replies(*server, c, 1);
  EXPECT_EQ(c.received(), "listen_port=51820\nerrno=0\n\n");
}

TEST_F(UapiServer, LeavesAFileThatIsNotASocketAlone) {
  std::filesystem::create_directories(options_.socket_dir);
  std::ofstream(path()) << "not a socket";
  std::string error;
  EXPECT_FALSE(Server::start(options_, fake_, error));
  EXPECT_NE(error.find("not a socket"), std::string::npos) << error;
  EXPECT_TRUE(std::filesystem::is_regular_file(path()));
}

TEST_F(UapiServer, StopRemovesOnlyItsOwnSocket) {
  auto server = start();
  server->stop();
  EXPECT_FALSE(std::filesystem::exists(path()));
  server->stop();  // idempotent

  server = start();
  // Someone replaced the file: it is no longer ours and stop leaves it.
  std::filesystem::remove(path());
  EXPECT_FALSE(server->socket_still_ours());
  std::ofstream(path()) << "someone else's";
  server.reset();
  EXPECT_TRUE(std::filesystem::is_regular_file(path()));
}

TEST_F(UapiServer, RejectsBadInterfaceNames) {
  for (const char* name : {"", "a/b", "..", "sixteen-chars-xx", "wg 0", "wg\n0"}) {
    options_.interface_name = name;
    std::string error;
    EXPECT_FALSE(Server::start(options_, fake_, error)) << name;
    EXPECT_NE(error.find("interface name"), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace wghub::ctl::uapi
