// UDP endpoints in the config: a peer's initial endpoint and the metrics
// listener. Only IP literals are accepted; the hub never resolves names, so a
// config means the same thing whatever DNS says at load time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/address.hpp"

namespace wghub::config {

struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;

  // "203.0.113.7:51820" or "[2001:db8::7]:51820"; port 1..65535.
  static Parsed<Endpoint> parse(std::string_view text);
  // Inverse of parse (brackets for IPv6).
  std::string to_string() const;

  Family family() const { return address.family; }
  auto operator<=>(const Endpoint&) const = default;
};

}  // namespace wghub::config
