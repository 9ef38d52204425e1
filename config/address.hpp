// IP addresses, prefixes and interface addresses of the config model: parsing
// from the text operators write, formatting back, and containment. The FIB and
// the inner-source check consume Prefix directly, so it is kept canonical (no
// host bits) by construction.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace wghub::config {

// The outcome of parsing operator text: a value, or a message that says what
// is wrong and how to fix it (never both).
template <typename T>
struct Parsed {
  std::optional<T> value;
  std::string error;

  static Parsed ok(T v) { return Parsed{std::move(v), {}}; }
  static Parsed fail(std::string message) { return Parsed{std::nullopt, std::move(message)}; }
  explicit operator bool() const { return value.has_value(); }
};

enum class Family : std::uint8_t { v4 = 4, v6 = 6 };

// An IPv4 or IPv6 address. IPv4 uses the first 4 bytes of `bytes` (network
// order); the rest stay zero so comparison and hashing see one representation.
struct IpAddress {
  Family family = Family::v4;
  std::array<std::uint8_t, 16> bytes{};

  static IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);
  // Only literals (inet_pton syntax); no names, no scope ids.
  static std::optional<IpAddress> parse(std::string_view text);

  std::size_t byte_length() const { return family == Family::v4 ? 4 : 16; }
  // An IPv4 address as one word in host order (the FIB's key).
  std::uint32_t v4_host() const {
    return std::uint32_t{bytes[0]} << 24 | std::uint32_t{bytes[1]} << 16 |
           std::uint32_t{bytes[2]} << 8 | bytes[3];
  }
  unsigned max_prefix_length() const { return family == Family::v4 ? 32 : 128; }
  std::string to_string() const;

  auto operator<=>(const IpAddress&) const = default;
};

// A canonical route prefix: the address has no bits set past `length`.
class Prefix {
 public:
  Prefix() = default;
  // Masks off host bits, so any (address, length) makes a valid prefix.
  // length is clamped to the family's maximum.
  static Prefix from(const IpAddress& address, unsigned length);
  // "10.1.0.0/24", "fd00:1::/64"; a bare address means a host route (/32,
  // /128) as in wg(8). Host bits are an error that suggests the network.
  static Parsed<Prefix> parse(std::string_view text);

  Family family() const { return address_.family; }
  const IpAddress& address() const { return address_; }
  unsigned length() const { return length_; }

  bool contains(const IpAddress& address) const;
  // True when every address of `other` is inside this prefix.
  bool contains(const Prefix& other) const;
  std::string to_string() const;

  auto operator<=>(const Prefix&) const = default;

 private:
  IpAddress address_{};
  std::uint8_t length_ = 0;
};

// For unordered maps keyed by prefix (the device's owner of each AllowedIP):
// the address's two words mixed with the length and family.
struct PrefixHash {
  std::size_t operator()(const Prefix& p) const noexcept {
    std::uint64_t w[2];
    std::memcpy(w, p.address().bytes.data(), sizeof w);
    std::uint64_t h = (w[0] ^ (w[1] * 0x9e3779b97f4a7c15ULL)) + p.length() +
                      (static_cast<std::uint64_t>(p.family()) << 8);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return static_cast<std::size_t>(h);
  }
};

// An address assigned to an interface together with its subnet length
// ("198.51.100.10/24"); here host bits are the point.
struct InterfaceAddress {
  IpAddress address;
  unsigned length = 0;

  // Requires the "/length" part.
  static Parsed<InterfaceAddress> parse(std::string_view text);

  Prefix subnet() const { return Prefix::from(address, length); }
  std::string to_string() const;

  bool operator==(const InterfaceAddress&) const = default;
};

// Shared by the parsers: "address/length" split and checked, host bits kept.
// When allow_bare is true a missing "/length" means the full length.
Parsed<InterfaceAddress> parse_cidr(std::string_view text, bool allow_bare);

}  // namespace wghub::config
