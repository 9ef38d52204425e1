// Parsing and formatting of host:port endpoints (see endpoint.hpp).
#include "config/endpoint.hpp"

#include <charconv>

namespace wghub::config {

namespace {

bool looks_like_name(std::string_view host) {
  for (char c : host) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (letter) return true;
  }
  return false;
}

}  // namespace

Parsed<Endpoint> Endpoint::parse(std::string_view text) {
  using R = Parsed<Endpoint>;
  const std::string shown(text);
  if (text.empty()) return R::fail("empty value; expected host:port like 203.0.113.7:51820");
  std::string_view host;
  std::string_view port_text;
  bool bracketed = false;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return R::fail("'" + shown + "' has '[' without ']'; write [2001:db8::1]:51820");
    }
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return R::fail("'" + shown + "' has no port; write [" + std::string(host) + "]:51820");
    }
    port_text = rest.substr(1);
    bracketed = true;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return R::fail("'" + shown + "' has no port; write " + shown + ":51820");
    }
    if (text.find(':') != colon) {
      return R::fail("'" + shown + "': an IPv6 endpoint needs brackets, e.g. [2001:db8::1]:51820");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  const auto ip = IpAddress::parse(host);
  if (!ip) {
    if (host.find('%') != std::string_view::npos) {
      return R::fail("'" + shown + "': scoped IPv6 addresses (%zone) are not supported");
    }
    if (!bracketed && looks_like_name(host)) {
      return R::fail("'" + std::string(host) +
                     "' is not an IP address; host names are not resolved, use an IP literal");
    }
    return R::fail("'" + std::string(host) + "' is not a valid IPv4 or IPv6 address");
  }
  if (bracketed && ip->family != Family::v6) {
    return R::fail("'" + shown + "': brackets are only for IPv6 addresses");
  }
  unsigned long port = 0;
  const auto* end = port_text.data() + port_text.size();
  const auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
  if (ec == std::errc::result_out_of_range && ptr == end)
    port = 0;  // reported as out of range
  else if (port_text.empty() || ec != std::errc() || ptr != end) {
    return R::fail("'" + shown + "' has an invalid port '" + std::string(port_text) +
                   "'; expected a number 1..65535");
  }
  if (port < 1 || port > 65535) {
    return R::fail("port " + std::string(port_text) + " is out of range (1..65535)");
  }
  return R::ok(Endpoint{*ip, static_cast<std::uint16_t>(port)});
}

std::string Endpoint::to_string() const {
  if (address.family == Family::v6) {
    return "[" + address.to_string() + "]:" + std::to_string(port);
  }
  return address.to_string() + ":" + std::to_string(port);
}

}  // namespace wghub::config
