// See frames.hpp: the simulator's own view of the wire formats.
#include "perf/sim/frames.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace wghub::perfsim {

namespace {

std::uint16_t get16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
std::uint32_t get32(const std::uint8_t* p) {
  return std::uint32_t{get16(p)} << 16 | get16(p + 2);
}

}  // namespace

std::string format_ip(std::uint32_t ip) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
                ip & 0xff);
  return buf;
}

std::string format_mac(const Mac& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                m[5]);
  return buf;
}

std::uint16_t inet_checksum(const std::uint8_t* p, std::size_t len) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += get16(p + i);
  if (len & 1) sum += std::uint32_t{p[len - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

Bytes ipv4_packet(std::uint32_t src, std::uint32_t dst, std::uint8_t proto, const Bytes& payload,
                  std::uint8_t ttl, std::uint16_t id) {
  Bytes p(20 + payload.size(), 0);
  p[0] = 0x45;
  put16(&p[2], static_cast<std::uint16_t>(p.size()));
  put16(&p[4], id);
  p[8] = ttl;
  p[9] = proto;
  put32(&p[12], src);
  put32(&p[16], dst);
  put16(&p[10], inet_checksum(p.data(), 20));
  if (!payload.empty()) std::memcpy(&p[20], payload.data(), payload.size());
  return p;
}

Bytes udp_packet(std::uint32_t src, std::uint32_t dst, std::uint16_t sport, std::uint16_t dport,
                 const Bytes& payload, std::uint8_t ttl) {
  Bytes udp(8 + payload.size(), 0);
  put16(&udp[0], sport);
  put16(&udp[2], dport);
  put16(&udp[4], static_cast<std::uint16_t>(udp.size()));
  if (!payload.empty()) std::memcpy(&udp[8], payload.data(), payload.size());
  return ipv4_packet(src, dst, kProtoUdp, udp, ttl);
}

Ip6 ip6(const char* text) {
  Ip6 a{};
  if (inet_pton(AF_INET6, text, a.data()) != 1)
    throw std::invalid_argument(std::string("not an IPv6 address: ") + text);
  return a;
}

std::string format_ip6(const Ip6& ip) {
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(AF_INET6, ip.data(), text, sizeof text) == nullptr) return "?";
  return text;
}

std::uint16_t ipv6_upper_checksum(const Ip6& src, const Ip6& dst, std::uint8_t next,
                                  const std::uint8_t* l4, std::size_t len) {
  Bytes pseudo(40 + len, 0);
  std::memcpy(&pseudo[0], src.data(), 16);
  std::memcpy(&pseudo[16], dst.data(), 16);
  put32(&pseudo[32], static_cast<std::uint32_t>(len));
  pseudo[39] = next;
  if (len != 0) std::memcpy(&pseudo[40], l4, len);
  return inet_checksum(pseudo.data(), pseudo.size());
}

Bytes ipv6_packet(const Ip6& src, const Ip6& dst, std::uint8_t next, const Bytes& payload,
                  std::uint8_t hop_limit) {
  Bytes p(40 + payload.size(), 0);
  p[0] = 0x60;
  put16(&p[4], static_cast<std::uint16_t>(payload.size()));
  p[6] = next;
  p[7] = hop_limit;
  std::memcpy(&p[8], src.data(), 16);
  std::memcpy(&p[24], dst.data(), 16);
  if (!payload.empty()) std::memcpy(&p[40], payload.data(), payload.size());
  return p;
}

Bytes udp6_packet(const Ip6& src, const Ip6& dst, std::uint16_t sport, std::uint16_t dport,
                  const Bytes& payload, std::uint8_t hop_limit) {
  Bytes udp(8 + payload.size(), 0);
  put16(&udp[0], sport);
  put16(&udp[2], dport);
  put16(&udp[4], static_cast<std::uint16_t>(udp.size()));
  if (!payload.empty()) std::memcpy(&udp[8], payload.data(), payload.size());
  const std::uint16_t c = ipv6_upper_checksum(src, dst, kProtoUdp, udp.data(), udp.size());
  put16(&udp[6], c == 0 ? 0xffff : c);
  return ipv6_packet(src, dst, kProtoUdp, udp, hop_limit);
}

Bytes icmp6_packet(const Ip6& src, const Ip6& dst, std::uint8_t type, std::uint8_t code,
                   const Bytes& body, std::uint8_t hop_limit) {
  Bytes icmp(4 + body.size(), 0);
  icmp[0] = type;
  icmp[1] = code;
  if (!body.empty()) std::memcpy(&icmp[4], body.data(), body.size());
  put16(&icmp[2], ipv6_upper_checksum(src, dst, kProtoIcmp6, icmp.data(), icmp.size()));
  return ipv6_packet(src, dst, kProtoIcmp6, icmp, hop_limit);
}

Bytes neighbor_advert_frame(const Mac& eth_dst, const Mac& mac, const Ip6& target, const Ip6& to) {
  Bytes body(4 + 16 + 8, 0);
  body[0] = 0x60;  // Solicited, Override
  std::memcpy(&body[4], target.data(), 16);
  body[20] = 2;  // target link-layer address
  body[21] = 1;
  std::memcpy(&body[22], mac.data(), 6);
  return ethernet_frame(eth_dst, mac, kEtherTypeIpv6, icmp6_packet(target, to, 136, 0, body, 255));
}

Bytes neighbor_solicit_frame(const Mac& mac, const Ip6& src, const Ip6& target) {
  Ip6 group = ip6("ff02::1:ff00:0");
  group[13] = target[13];
  group[14] = target[14];
  group[15] = target[15];
  const Mac group_mac{0x33, 0x33, group[12], group[13], group[14], group[15]};
  Bytes body(4 + 16 + 8, 0);
  std::memcpy(&body[4], target.data(), 16);
  body[20] = 1;  // source link-layer address
  body[21] = 1;
  std::memcpy(&body[22], mac.data(), 6);
  return ethernet_frame(group_mac, mac, kEtherTypeIpv6,
                        icmp6_packet(src, group, 135, 0, body, 255));
}

Bytes ethernet_frame(const Mac& dst, const Mac& src, std::uint16_t ether_type,
                     const Bytes& payload) {
  Bytes f(14 + payload.size(), 0);
  std::memcpy(&f[0], dst.data(), 6);
  std::memcpy(&f[6], src.data(), 6);
  put16(&f[12], ether_type);
  if (!payload.empty()) std::memcpy(&f[14], payload.data(), payload.size());
  if (f.size() < 60) f.resize(60, 0);
  return f;
}

Bytes arp_frame(std::uint16_t op, const Mac& eth_dst, const Mac& sender_mac,
                std::uint32_t sender_ip, const Mac& target_mac, std::uint32_t target_ip) {
  Bytes a(28, 0);
  put16(&a[0], 1);       // Ethernet
  put16(&a[2], 0x0800);  // IPv4
  a[4] = 6;
  a[5] = 4;
  put16(&a[6], op);
  std::memcpy(&a[8], sender_mac.data(), 6);
  put32(&a[14], sender_ip);
  std::memcpy(&a[18], target_mac.data(), 6);
  put32(&a[24], target_ip);
  return ethernet_frame(eth_dst, sender_mac, kEtherTypeArp, a);
}

Bytes pattern_payload(std::uint32_t seq, std::size_t len) {
  Bytes p(len);
  std::uint32_t x = seq * 2654435761u + 12345;
  for (std::size_t i = 0; i < len; ++i) {
    x = x * 1103515245u + 12345;
    p[i] = static_cast<std::uint8_t>(x >> 16);
  }
  if (len >= 4) put32(p.data(), seq);
  return p;
}

std::optional<ParsedIpv4> parse_ipv4(const Bytes& packet) {
  if (packet.size() < 20 || (packet[0] >> 4) != 4) return std::nullopt;
  const std::size_t ihl = (packet[0] & 0xf) * 4u;
  ParsedIpv4 out;
  out.total_length = get16(&packet[2]);
  if (ihl < 20 || out.total_length < ihl || out.total_length > packet.size()) return std::nullopt;
  out.ttl = packet[8];
  out.proto = packet[9];
  out.src = get32(&packet[12]);
  out.dst = get32(&packet[16]);
  out.checksum_ok = inet_checksum(packet.data(), ihl) == 0;
  out.payload.assign(packet.begin() + static_cast<std::ptrdiff_t>(ihl),
                     packet.begin() + out.total_length);
  return out;
}

std::optional<ParsedIpv6> parse_ipv6(const Bytes& packet) {
  if (packet.size() < 40 || (packet[0] >> 4) != 6) return std::nullopt;
  ParsedIpv6 out;
  out.payload_length = get16(&packet[4]);
  if (40u + out.payload_length > packet.size()) return std::nullopt;
  out.next = packet[6];
  out.hop_limit = packet[7];
  std::memcpy(out.src.data(), &packet[8], 16);
  std::memcpy(out.dst.data(), &packet[24], 16);
  out.payload.assign(packet.begin() + 40, packet.begin() + 40 + out.payload_length);
  return out;
}

namespace {

std::optional<ParsedFrame> parse_ipv6_frame(const Bytes& f, ParsedFrame out) {
  const Bytes l3(f.begin() + 14, f.end());
  const auto ip = parse_ipv6(l3);
  if (!ip) return std::nullopt;
  out.src_ip6 = ip->src;
  out.dst_ip6 = ip->dst;
  out.ttl = ip->hop_limit;
  out.proto = ip->next;
  out.ip_total_length = static_cast<std::uint16_t>(40 + ip->payload_length);
  out.ip_packet.assign(l3.begin(), l3.begin() + out.ip_total_length);
  const Bytes& pl = ip->payload;
  if (ip->next == kProtoUdp || ip->next == kProtoIcmp6)
    out.ip_checksum_ok = ipv6_upper_checksum(ip->src, ip->dst, ip->next, pl.data(), pl.size()) == 0;
  if (ip->next == kProtoUdp) {
    if (pl.size() < 8) return std::nullopt;
    out.src_port = get16(&pl[0]);
    out.dst_port = get16(&pl[2]);
    const std::uint16_t udp_len = get16(&pl[4]);
    if (udp_len < 8 || udp_len > pl.size()) return std::nullopt;
    out.udp_payload.assign(pl.begin() + 8, pl.begin() + udp_len);
  } else if (ip->next == kProtoIcmp6) {
    if (pl.size() < 4) return std::nullopt;
    out.icmp6_type = pl[0];
    if ((pl[0] == 135 || pl[0] == 136) && pl.size() >= 24) {
      std::memcpy(out.ndp_target.data(), &pl[8], 16);
      for (std::size_t at = 24; at + 8 <= pl.size() && pl[at + 1] != 0; at += pl[at + 1] * 8u) {
        if (pl[at + 1] == 1 && (pl[at] == 1 || pl[at] == 2)) {
          out.ndp_has_lla = true;
          std::memcpy(out.ndp_lla.data(), &pl[at + 2], 6);
        }
      }
    }
  }
  return out;
}

}  // namespace

std::optional<ParsedFrame> parse_frame(const Bytes& f) {
  if (f.size() < 14) return std::nullopt;
  ParsedFrame out;
  std::memcpy(out.dst.data(), &f[0], 6);
  std::memcpy(out.src.data(), &f[6], 6);
  out.ether_type = get16(&f[12]);
  if (out.ether_type == kEtherTypeArp) {
    if (f.size() < 14 + 28) return std::nullopt;
    const std::uint8_t* a = &f[14];
    out.arp_op = get16(a + 6);
    std::memcpy(out.arp_sender_mac.data(), a + 8, 6);
    out.arp_sender_ip = get32(a + 14);
    std::memcpy(out.arp_target_mac.data(), a + 18, 6);
    out.arp_target_ip = get32(a + 24);
    return out;
  }
  if (out.ether_type == kEtherTypeIpv6) return parse_ipv6_frame(f, out);
  if (out.ether_type != kEtherTypeIpv4) return std::nullopt;
  const Bytes l3(f.begin() + 14, f.end());
  const auto ip = parse_ipv4(l3);
  if (!ip) return std::nullopt;
  out.src_ip = ip->src;
  out.dst_ip = ip->dst;
  out.ttl = ip->ttl;
  out.proto = ip->proto;
  out.ip_total_length = ip->total_length;
  out.ip_checksum_ok = ip->checksum_ok;
  out.ip_packet.assign(l3.begin(), l3.begin() + ip->total_length);
  if (ip->proto == kProtoUdp) {
    if (ip->payload.size() < 8) return std::nullopt;
    out.src_port = get16(&ip->payload[0]);
    out.dst_port = get16(&ip->payload[2]);
    const std::uint16_t udp_len = get16(&ip->payload[4]);
    if (udp_len < 8 || udp_len > ip->payload.size()) return std::nullopt;
    out.udp_payload.assign(ip->payload.begin() + 8, ip->payload.begin() + udp_len);
  }
  return out;
}

}  // namespace wghub::perfsim
