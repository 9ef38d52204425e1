// The client side of the wg(8) userspace API (https://www.wireguard.com/xplatform/),
// for `wghub site`: one request per connection to the running hub's socket
// /var/run/wireguard/<interface>.sock, as wg(8) does. The socket also says
// which process serves it (SO_PEERCRED), so a command can signal that hub.
// Replies are parsed into uapi::DeviceStatus; no key material is ever read
// (the hub sends none).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "control/uapi.hpp"

namespace wghub::ctl::uapi {

inline constexpr const char* kSocketDir = "/var/run/wireguard";

struct ClientReply {
  std::string text;       // the whole reply, up to the blank line
  int error = 0;          // the reply's errno (positive), 0 = done
  pid_t server_pid = -1;  // who serves the socket (SO_PEERCRED)
};

// Sends `request` ("get=1\n\n", or "set=1\n...\n\n") and reads the reply.
// nullopt with `error` when nothing serves the socket or the exchange broke;
// ENOENT/ECONNREFUSED (no hub running) end up in `no_server`.
std::optional<ClientReply> exchange(const std::string& socket_path, const std::string& request,
                                    std::string& error, bool* no_server = nullptr);

// Parses a get reply into peers (public key, endpoint, last handshake,
// bytes, keepalive, allowed IPs). nullopt with `error` on a malformed reply.
std::optional<DeviceStatus> parse_get_reply(const std::string& text, std::string& error);

// Inverse of key_to_hex.
std::optional<PublicKey> key_from_hex(std::string_view hex);

}  // namespace wghub::ctl::uapi
