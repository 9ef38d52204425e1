// Parsing and formatting of IP addresses and prefixes (see address.hpp).
#include "config/address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace wghub::config {

namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// Keeps the first `length` bits of `bytes`, zeroes the rest.
void mask_bytes(std::array<std::uint8_t, 16>& bytes, unsigned length) {
  for (unsigned i = 0; i < bytes.size(); ++i) {
    const unsigned bit = i * 8;
    if (bit >= length) {
      bytes[i] = 0;
    } else if (length - bit < 8) {
      bytes[i] &= static_cast<std::uint8_t>(0xff << (8 - (length - bit)));
    }
  }
}

const char* family_name(Family f) {
  return f == Family::v4 ? "IPv4" : "IPv6";
}

}  // namespace

IpAddress IpAddress::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress ip;
  ip.family = Family::v4;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; addresses are short.
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress ip;
  if (text.find(':') == std::string_view::npos) {
    ip.family = Family::v4;
    if (inet_pton(AF_INET, buf, ip.bytes.data()) != 1) return std::nullopt;
  } else {
    ip.family = Family::v6;
    if (inet_pton(AF_INET6, buf, ip.bytes.data()) != 1) return std::nullopt;
  }
  return ip;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  const int af = family == Family::v4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

Prefix Prefix::from(const IpAddress& address, unsigned length) {
  Prefix p;
  p.address_ = address;
  if (length > address.max_prefix_length()) length = address.max_prefix_length();
  p.length_ = static_cast<std::uint8_t>(length);
  mask_bytes(p.address_.bytes, length);
  return p;
}

Parsed<Prefix> Prefix::parse(std::string_view text) {
  auto cidr = parse_cidr(text, /*allow_bare=*/true);
  if (!cidr) return Parsed<Prefix>::fail(cidr.error);
  const Prefix p = cidr.value->subnet();
  if (p.address() != cidr.value->address) {
    return Parsed<Prefix>::fail("host bits set; did you mean " + p.to_string() + "?");
  }
  return Parsed<Prefix>::ok(p);
}

bool Prefix::contains(const IpAddress& address) const {
  if (address.family != family()) return false;
  return Prefix::from(address, length_).address_ == address_;
}

bool Prefix::contains(const Prefix& other) const {
  return other.family() == family() && other.length_ >= length_ && contains(other.address_);
}

std::string Prefix::to_string() const {
  return address_.to_string() + "/" + std::to_string(length_);
}

Parsed<InterfaceAddress> InterfaceAddress::parse(std::string_view text) {
  return parse_cidr(text, /*allow_bare=*/false);
}

std::string InterfaceAddress::to_string() const {
  return address.to_string() + "/" + std::to_string(length);
}

Parsed<InterfaceAddress> parse_cidr(std::string_view text, bool allow_bare) {
  using R = Parsed<InterfaceAddress>;
  const std::string shown(text);
  if (text.empty()) return R::fail("empty value; expected an address/length like 10.1.0.0/24");
  const auto slash = text.find('/');
  const std::string_view addr_text = text.substr(0, slash);
  const auto ip = IpAddress::parse(addr_text);
  if (!ip) {
    return R::fail("'" + std::string(addr_text) + "' is not a valid IPv4 or IPv6 address");
  }
  InterfaceAddress out{*ip, ip->max_prefix_length()};
  if (slash == std::string_view::npos) {
    if (!allow_bare) {
      return R::fail("'" + shown + "' has no prefix length; add the subnet length, e.g. " + shown +
                     (ip->family == Family::v4 ? "/24" : "/64"));
    }
    return R::ok(out);
  }
  const std::string_view len_text = text.substr(slash + 1);
  if (!all_digits(len_text) || len_text.size() > 3) {
    return R::fail("'" + shown + "' has an invalid prefix length '" + std::string(len_text) +
                   "'; expected a number after '/'");
  }
  unsigned length = 0;
  std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
  if (length > ip->max_prefix_length()) {
    return R::fail("prefix length " + std::to_string(length) + " is too long for " +
                   family_name(ip->family) + " (at most " +
                   std::to_string(ip->max_prefix_length()) + ")");
  }
  out.length = length;
  return R::ok(out);
}

}  // namespace wghub::config
