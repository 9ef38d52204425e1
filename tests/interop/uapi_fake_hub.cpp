// wghub-uapi-fake-hub: serves the wg(8) socket for one interface with the
// real uapi::Server and an in-memory backend (tests/unit/uapi/fake_backend.hpp)
// so tests/interop/uapi_wg_tool.sh can drive it with the stock `wg` tool.
// It starts with listen port 51820 and one seeded peer whose counters,
// endpoint and handshake time are fixed, so `wg show dump` output is exact.
// Listen port 1 "cannot be bound" (EADDRINUSE). After every applied set it writes the fake's state
// (no secrets) to
// --state FILE. Exits on SIGINT/SIGTERM, or when its socket file is deleted
// (xplatform: a userspace implementation dies gracefully then).
//
// usage: wghub-uapi-fake-hub INTERFACE [--socket-dir DIR] [--state FILE]
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "control/uapi_server.hpp"
#include "tests/unit/uapi/fake_backend.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace wghub::ctl::uapi;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s INTERFACE [--socket-dir DIR] [--state FILE]\n", argv[0]);
    return 2;
  }
  Server::Options options;
  options.interface_name = argv[1];
  std::string state_file;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--socket-dir") == 0) {
      options.socket_dir = argv[i + 1];
    } else if (std::strcmp(argv[i], "--state") == 0) {
      state_file = argv[i + 1];
    } else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }

  test::FakeBackend fake;
  fake.listen_port = 51820;
  fake.unbindable_port = 1;  // `wg set NAME listen-port 1` fails with EADDRINUSE
  test::FakeBackend::Peer seed;
  seed.public_key.fill(0x11);  // base64: ERERERERERERERERERERERERERERERERERERERERERE=
  seed.endpoint = *wghub::config::Endpoint::parse("198.51.100.7:51821").value;
  seed.persistent_keepalive = 25;
  seed.allowed_ips = {*wghub::config::Prefix::parse("10.1.0.0/24").value,
                      *wghub::config::Prefix::parse("fd00:1::/64").value};
  seed.last_handshake_sec = 1700000000;
  seed.last_handshake_nsec = 5;
  seed.rx_bytes = 1234567;
  seed.tx_bytes = 7654321;
  fake.peers.push_back(seed);
  auto write_state = [&] {
    if (state_file.empty()) return;
    const std::string tmp = state_file + ".tmp";
    std::ofstream(tmp) << fake.describe();
    std::rename(tmp.c_str(), state_file.c_str());
  };
  fake.on_change = write_state;
  write_state();

  std::string error;
  auto server = Server::start(options, fake, error);
  if (!server) {
    std::fprintf(stderr, "wghub-uapi-fake-hub: %s\n", error.c_str());
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::printf("ready %s\n", server->socket_path().c_str());
  std::fflush(stdout);

  for (unsigned long round = 0; !g_stop; ++round) {
    server->poll();
    if (round % 256 == 0 && !server->socket_still_ours()) {
      std::fprintf(stderr, "wghub-uapi-fake-hub: socket file gone; exiting\n");
      break;
    }
    ::usleep(1000);  // a test program; the hub polls from its control loop
  }
  server->stop();
  return 0;
}
