// Prefix, InterfaceAddress and Endpoint parsing/formatting: the value types
// the FIB and the control plane consume.
#include <gtest/gtest.h>

#include "config/address.hpp"
#include "config/endpoint.hpp"

namespace wghub::config {
namespace {

Prefix must_prefix(const char* text) {
  auto p = Prefix::parse(text);
  EXPECT_TRUE(p) << text << ": " << p.error;
  return p.value.value_or(Prefix{});
}

IpAddress must_ip(const char* text) {
  auto ip = IpAddress::parse(text);
  EXPECT_TRUE(ip.has_value()) << text;
  return ip.value_or(IpAddress{});
}

TEST(IpAddress, ParsesAndFormatsBothFamilies) {
  const IpAddress v4 = must_ip("192.0.2.1");
  EXPECT_EQ(v4.family, Family::v4);
  EXPECT_EQ(v4, IpAddress::v4(192, 0, 2, 1));
  EXPECT_EQ(v4.to_string(), "192.0.2.1");
  const IpAddress v6 = must_ip("2001:DB8:0:0::1");
  EXPECT_EQ(v6.family, Family::v6);
  EXPECT_EQ(v6.bytes[0], 0x20);
  EXPECT_EQ(v6.bytes[15], 0x01);
  EXPECT_EQ(v6.to_string(), "2001:db8::1");
}

TEST(IpAddress, RejectsNonLiterals) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "example.com", "fe80::1%eth0",
                          "1.2.3.4 ", "::g", "01.2.3.4"}) {
    EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
  }
}

TEST(Prefix, ParsesCanonicalPrefixes) {
  const Prefix p = must_prefix("10.1.0.0/24");
  EXPECT_EQ(p.family(), Family::v4);
  EXPECT_EQ(p.length(), 24u);
  EXPECT_EQ(p.to_string(), "10.1.0.0/24");
  EXPECT_EQ(must_prefix("0.0.0.0/0").to_string(), "0.0.0.0/0");
  EXPECT_EQ(must_prefix("fd00:1::/64").to_string(), "fd00:1::/64");
  EXPECT_EQ(must_prefix("::/0").length(), 0u);
  // A bare address is a host route, as in wg(8).
  EXPECT_EQ(must_prefix("10.9.9.9").to_string(), "10.9.9.9/32");
  EXPECT_EQ(must_prefix("fd00::9").to_string(), "fd00::9/128");
}

TEST(Prefix, ErrorsNameTheProblem) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"10.1.0.5/24", "host bits set; did you mean 10.1.0.0/24?"},
      {"fd00:1::1/64", "host bits set; did you mean fd00:1::/64?"},
      {"10.1.0.0/33", "prefix length 33 is too long for IPv4 (at most 32)"},
      {"fd00::/129", "prefix length 129 is too long for IPv6 (at most 128)"},
      {"10.1.0/24", "'10.1.0' is not a valid IPv4 or IPv6 address"},
      {"10.1.0.0/", "'10.1.0.0/' has an invalid prefix length ''; expected a number after '/'"},
      {"10.1.0.0/x", "'10.1.0.0/x' has an invalid prefix length 'x'; expected a number after '/'"},
      {"", "empty value; expected an address/length like 10.1.0.0/24"},
  };
  for (const auto& c : cases) {
    auto p = Prefix::parse(c.text);
    EXPECT_FALSE(p) << c.text;
    EXPECT_EQ(p.error, c.error) << c.text;
  }
}

TEST(Prefix, FromMasksHostBits) {
  const Prefix p = Prefix::from(must_ip("10.1.2.3"), 20);
  EXPECT_EQ(p.to_string(), "10.1.0.0/20");
  EXPECT_EQ(Prefix::from(must_ip("fd00:1:2:3::9"), 36).to_string(), "fd00:1::/36");
  EXPECT_EQ(Prefix::from(must_ip("10.0.0.1"), 99).length(), 32u);  // clamped
}

TEST(Prefix, Contains) {
  const Prefix p = must_prefix("10.1.0.0/16");
  EXPECT_TRUE(p.contains(must_ip("10.1.255.255")));
  EXPECT_TRUE(p.contains(must_ip("10.1.0.0")));
  EXPECT_FALSE(p.contains(must_ip("10.2.0.0")));
  EXPECT_FALSE(p.contains(must_ip("::a01:0")));  // other family
  EXPECT_TRUE(p.contains(must_prefix("10.1.7.0/24")));
  EXPECT_TRUE(p.contains(p));
  EXPECT_FALSE(p.contains(must_prefix("10.0.0.0/8")));
  EXPECT_TRUE(must_prefix("0.0.0.0/0").contains(must_ip("203.0.113.1")));
  const Prefix v6 = must_prefix("fd00:1::/63");
  EXPECT_TRUE(v6.contains(must_ip("fd00:1:0:1::1")));
  EXPECT_FALSE(v6.contains(must_ip("fd00:1:0:2::1")));
}

TEST(Prefix, OrdersByFamilyAddressLength) {
  EXPECT_LT(must_prefix("10.0.0.0/8"), must_prefix("10.0.0.0/16"));
  EXPECT_LT(must_prefix("10.0.0.0/16"), must_prefix("11.0.0.0/8"));
  EXPECT_LT(must_prefix("255.0.0.0/8"), must_prefix("::/0"));
  EXPECT_EQ(must_prefix("10.1.0.0/24"), Prefix::from(must_ip("10.1.0.77"), 24));
}

TEST(InterfaceAddress, KeepsHostBitsAndNeedsALength) {
  auto a = InterfaceAddress::parse("198.51.100.10/24");
  ASSERT_TRUE(a) << a.error;
  EXPECT_EQ(a.value->address, must_ip("198.51.100.10"));
  EXPECT_EQ(a.value->length, 24u);
  EXPECT_EQ(a.value->subnet().to_string(), "198.51.100.0/24");
  EXPECT_EQ(a.value->to_string(), "198.51.100.10/24");
  auto bare = InterfaceAddress::parse("198.51.100.10");
  EXPECT_FALSE(bare);
  EXPECT_EQ(bare.error,
            "'198.51.100.10' has no prefix length; add the subnet length, e.g. 198.51.100.10/24");
}

TEST(Endpoint, ParsesBothFamilies) {
  auto v4 = Endpoint::parse("203.0.113.7:51820");
  ASSERT_TRUE(v4) << v4.error;
  EXPECT_EQ(v4.value->address, must_ip("203.0.113.7"));
  EXPECT_EQ(v4.value->port, 51820);
  EXPECT_EQ(v4.value->to_string(), "203.0.113.7:51820");
  auto v6 = Endpoint::parse("[2001:db8::7]:1");
  ASSERT_TRUE(v6) << v6.error;
  EXPECT_EQ(v6.value->family(), Family::v6);
  EXPECT_EQ(v6.value->port, 1);
  EXPECT_EQ(v6.value->to_string(), "[2001:db8::7]:1");
  auto max = Endpoint::parse("0.0.0.0:65535");
  ASSERT_TRUE(max) << max.error;
  EXPECT_EQ(max.value->port, 65535);
}

TEST(Endpoint, ErrorsNameTheProblem) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"vpn.example.com:51820",
       "'vpn.example.com' is not an IP address; host names are not resolved, use an IP literal"},
      {"2001:db8::7:51820",
       "'2001:db8::7:51820': an IPv6 endpoint needs brackets, e.g. [2001:db8::1]:51820"},
      {"203.0.113.7", "'203.0.113.7' has no port; write 203.0.113.7:51820"},
      {"203.0.113.7:0", "port 0 is out of range (1..65535)"},
      {"203.0.113.7:65536", "port 65536 is out of range (1..65535)"},
      {"203.0.113.7:99999999999999999999", "port 99999999999999999999 is out of range (1..65535)"},
      {"203.0.113.7:http",
       "'203.0.113.7:http' has an invalid port 'http'; expected a number 1..65535"},
      {"[2001:db8::7]", "'[2001:db8::7]' has no port; write [2001:db8::7]:51820"},
      {"[2001:db8::7:51820", "'[2001:db8::7:51820' has '[' without ']'; write [2001:db8::1]:51820"},
      {"[203.0.113.7]:51820", "'[203.0.113.7]:51820': brackets are only for IPv6 addresses"},
      {"[fe80::1%eth0]:51820",
       "'[fe80::1%eth0]:51820': scoped IPv6 addresses (%zone) are not supported"},
      {"300.0.113.7:51820", "'300.0.113.7' is not a valid IPv4 or IPv6 address"},
      {"", "empty value; expected host:port like 203.0.113.7:51820"},
  };
  for (const auto& c : cases) {
    auto e = Endpoint::parse(c.text);
    EXPECT_FALSE(e) << c.text;
    EXPECT_EQ(e.error, c.error) << c.text;
  }
}

}  // namespace
}  // namespace wghub::config
