// The wg(8) userspace API, socket half: a unix stream socket at
// /var/run/wireguard/<interface>.sock (https://www.wireguard.com/xplatform/,
// "Interface"), served from the control thread. poll() never blocks: it
// accepts, reads and writes only what the kernel has ready, so a slow or
// stuck client costs the hub nothing but a buffer. Requests are framed and
// parsed by uapi.hpp and handed to a Backend.
//
// Socket rules: the directory is created 0755 if missing, the socket 0600
// (only root may configure the hub); a socket another live process answers
// on is never taken over; a stale one (nobody listening) is replaced; stop()
// removes the socket only if it is still ours.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "control/uapi.hpp"

namespace wghub::ctl::uapi {

class Server {
 public:
  struct Options {
    std::string interface_name;  // 1..15 of [A-Za-z0-9_=+.-] (IFNAMSIZ, wg-quick's rule)
    std::string socket_dir = "/var/run/wireguard";
    // A request bigger than this is answered errno=EMSGSIZE and the
    // connection closed. 8 MiB holds a set of ~30k peers with a few
    // allowed IPs each, as `wg syncconf` sends for a large hub.
    std::size_t max_request_bytes = std::size_t{8} << 20;
    // Beyond this many connections the least recently active one is closed
    // to make room, so idle or stuck clients cannot lock `wg` out.
    std::size_t max_clients = 16;
    // A get is written this many peers per poll (Backend::get_slice): at
    // 10^5 peers the whole reply took one ~200 ms poll of the control
    // thread; a slice takes ~2 ms.
    std::size_t get_slice_peers = 1024;
  };

  // Creates the socket and listens. nullptr with `error` saying why (another
  // process serves the interface, a path that is not a socket, permissions).
  static std::unique_ptr<Server> start(const Options& options, Backend& backend,
                                       std::string& error);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // One non-blocking pass: accept new clients, read what has arrived, answer
  // complete requests (calling the backend), write what the clients take.
  // Call once per control-loop iteration; one poll(2) syscall when idle.
  void poll();

  // Closes every connection and the listening socket and removes the socket
  // file if it is still the one we created. Idempotent; the destructor calls it.
  void stop();

  const std::string& socket_path() const { return path_; }
  // For a caller that would rather wait in epoll: readable = poll() has work.
  int listen_fd() const { return listen_fd_; }
  std::size_t client_count() const { return clients_.size(); }

  // False once someone deleted or replaced the socket file. xplatform says a
  // userspace implementation should then shut down gracefully; that is the
  // hub's decision, so this only reports it (one stat(2); not for every
  // loop iteration).
  bool socket_still_ours() const;

 private:
  struct Client;

  Server(Options options, Backend& backend);
  bool open(std::string& error);
  void accept_clients();
  void service(Client& client, short revents);
  void read_from(Client& client);
  void answer_requests(Client& client);
  void answer_get(Client& client);
  void continue_get(Client& client);
  void answer_set(Client& client, const Frame& frame);
  bool flush(Client& client);
  void close_client(Client& client);

  Options options_;
  Backend& backend_;
  std::string path_;
  int listen_fd_ = -1;
  dev_t socket_dev_ = 0;
  ino_t socket_ino_ = 0;
  std::uint64_t tick_ = 0;  // poll() count; orders clients by last activity
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<pollfd> fds_;  // reused by poll(): no allocation per iteration
};

}  // namespace wghub::ctl::uapi
