// See site_plan.hpp.
#include "config/site_plan.hpp"

#include <algorithm>
#include <sstream>

#include "config/endpoint.hpp"
#include "config/wgquick.hpp"
#include "crypto/base64.hpp"

namespace wghub::config {

namespace {

using U128 = unsigned __int128;

U128 to_u128(const IpAddress& a) {
  U128 v = 0;
  for (std::size_t i = 0; i < a.byte_length(); ++i) v = v << 8 | a.bytes[i];
  return v;
}

IpAddress from_u128(U128 v, Family family) {
  IpAddress a;
  a.family = family;
  for (std::size_t i = a.byte_length(); i-- > 0;) {
    a.bytes[i] = static_cast<std::uint8_t>(v & 0xff);
    v >>= 8;
  }
  return a;
}

// The host part's mask of a prefix of `length` in a family of `bits` bits.
U128 host_mask(unsigned length, unsigned bits) {
  const unsigned host_bits = bits - length;
  return host_bits >= 128 ? ~U128{0} : (U128{1} << host_bits) - 1;
}

bool overlaps(const Prefix& a, const Prefix& b) {
  return a.family() == b.family() && (a.contains(b) || b.contains(a));
}

bool is_host(const Prefix& p) {
  return p.length() == p.address().max_prefix_length();
}

bool valid_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  char prev = '.';
  for (char c : host) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else {
      const bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok || (label == 0 && c == '-') || ++label > 63) return false;
    }
    prev = c;
  }
  return prev != '-' && prev != '.';
}

}  // namespace

std::string site_endpoint_problem(std::string_view text) {
  const char* example = "; give host:port, e.g. vpn.example.com:51820 or \"[2001:db8::1]:51820\"";
  if (text.empty()) return std::string("empty") + example;
  if (text.front() == '[') {
    auto ep = Endpoint::parse(text);
    return ep ? std::string() : ep.error;
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return "'" + std::string(text) + "' has no port" + example;
  const std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (host.find(':') != std::string_view::npos)
    return "'" + std::string(text) + "': an IPv6 address needs brackets" + example;
  unsigned long value = 0;
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      (value = std::stoul(std::string(port))) < 1 || value > 65535)
    return "'" + std::string(port) + "' is not a port 1..65535" + example;
  if (IpAddress::parse(host) || valid_dns_name(host)) return {};
  return "'" + std::string(host) + "' is neither an IPv4 address nor a host name" + example;
}

std::optional<SiteView> as_site(const Peer& peer, const Sites& sites) {
  SiteView view;
  view.peer = &peer;
  bool found = false;
  for (const Prefix& p : peer.allowed_ips) {
    if (!found && is_host(p) && sites.overlay.contains(p.address())) {
      view.overlay = p;
      found = true;
    } else {
      view.lans.push_back(p);
    }
  }
  if (!found) return std::nullopt;
  return view;
}

Parsed<IpAddress> allocate_overlay(const DesiredState& state) {
  if (!state.sites) return Parsed<IpAddress>::fail("the config has no sites section");
  const Prefix& pool = state.sites->overlay;
  const Family family = pool.family();
  const unsigned bits = pool.address().max_prefix_length();
  const U128 net = to_u128(pool.address());
  const U128 first = net + 1;  // not the network (Subnet-Router anycast) address
  U128 last = net + host_mask(pool.length(), bits);
  if (family == Family::v4) --last;  // not the broadcast address

  std::vector<std::pair<U128, U128>> taken;
  auto take = [&](const Prefix& p) {
    if (p.family() != family || !pool.contains(p)) return;
    const U128 start = to_u128(p.address());
    taken.emplace_back(start, start + host_mask(p.length(), bits));
  };
  auto take_address = [&](const IpAddress& a) { take(Prefix::from(a, a.max_prefix_length())); };
  if (state.interface.address) take_address(state.interface.address->address);
  for (const Port* port : {&state.ports.wan, &state.ports.lan}) {
    take_address(port->address.address);
    if (port->address6) take_address(port->address6->address);
  }
  for (const Peer& peer : state.peers)
    for (const Prefix& p : peer.allowed_ips) take(p);
  std::sort(taken.begin(), taken.end());

  U128 candidate = first;
  for (const auto& [start, end] : taken) {
    if (start > candidate) break;  // a gap: candidate is free
    if (end >= candidate) {
      if (end >= last) {
        candidate = last + 1;
        break;
      }
      candidate = end + 1;
    }
  }
  if (candidate > last || last < first)
    return Parsed<IpAddress>::fail(
        "the overlay pool " + pool.to_string() +
        " (sites.overlay) is full: every address is taken by a site, another peer or the hub; "
        "revoke a site or widen the pool");
  return Parsed<IpAddress>::ok(from_u128(candidate, family));
}

std::vector<std::string> lan_problems(const DesiredState& state, const std::vector<Prefix>& lans,
                                      const std::string& except) {
  std::vector<std::string> out;
  if (!state.sites) return {"the config has no sites section"};
  const Sites& sites = *state.sites;
  // The hub's own networks, each once with what it is.
  std::vector<std::pair<Prefix, std::string>> hub;
  for (const Prefix& p : sites.hq_networks) hub.emplace_back(p, "the HQ network " + p.to_string());
  auto add_hub = [&](const Prefix& p, const std::string& what) {
    for (const auto& [q, _] : hub)
      if (q == p) return;
    hub.emplace_back(p, what);
  };
  for (const auto& [port, name] : {std::pair{&state.ports.wan, "wan"}, {&state.ports.lan, "lan"}}) {
    add_hub(port->address.subnet(), std::string("the subnet of port ") + name);
    if (port->address6)
      add_hub(port->address6->subnet(), std::string("the subnet of port ") + name);
    for (const Route& r : port->routes)
      add_hub(r.prefix, "the static route " + r.prefix.to_string() + " on port " + name);
  }
  for (std::size_t i = 0; i < lans.size(); ++i) {
    const Prefix& lan = lans[i];
    const std::string l = "LAN " + lan.to_string();
    if (lan.length() == 0) {
      out.push_back(l + " is a default route; give the networks behind the site");
      continue;
    }
    for (std::size_t j = 0; j < i; ++j)
      if (overlaps(lan, lans[j])) out.push_back(l + " overlaps LAN " + lans[j].to_string());
    if (overlaps(lan, sites.overlay))
      out.push_back(l + " overlaps the overlay pool " + sites.overlay.to_string() +
                    " (sites.overlay)");
    for (const auto& [p, what] : hub)
      if (overlaps(lan, p)) out.push_back(l + " overlaps " + what);
    for (const Peer& peer : state.peers) {
      if (!except.empty() && peer.name == except) continue;
      for (const Prefix& p : peer.allowed_ips) {
        if (!overlaps(lan, p)) continue;
        out.push_back(l + " overlaps " + p.to_string() + " of peer '" + peer.name + "' (" +
                      peer.origin.to_string() + ")");
        break;
      }
    }
  }
  return out;
}

std::string site_peer_yaml(const std::string& name, const PublicKey& key, const Prefix& overlay,
                           const std::vector<Prefix>& lans) {
  std::ostringstream y;
  y << "# site " << name << ", written by `wghub site`; `wghub site revoke " << name
    << "` removes it.\n"
    << "name: " << name << "\n"
    << "public_key: \"" << crypto::key_to_base64(key.data()) << "\"\n"
    << "allowed_ips: [\"" << overlay.to_string() << "\"";
  for (const Prefix& p : lans) y << ", \"" << p.to_string() << "\"";
  y << "]\n";
  return y.str();
}

std::string site_wgquick(const DesiredState& state, const std::string& name,
                         const IpAddress& overlay_address, const crypto::Key* site_private_key,
                         const PublicKey& hub_public_key) {
  const Sites& sites = *state.sites;
  WgQuickOut out;
  out.header = {"wg-quick file of site " + name + " for the wghub hub " + state.interface.name +
                    ", written by `wghub site`.",
                "Bring the site up with: wg-quick up ./FILE.conf (the file name, without .conf,",
                "becomes the interface name). Keep this file secret: it holds the site's key."};
  out.private_key = site_private_key;
  out.private_key_note =
      "= (the site's own private key goes here; its key pair never left the site)";
  out.addresses.push_back(InterfaceAddress{overlay_address, sites.overlay.length()});
  out.mtu = sites.mtu;
  WgQuickOut::PeerOut hub;
  hub.name = state.interface.name;
  hub.public_key = hub_public_key;
  hub.allowed_ips.push_back(sites.overlay);
  for (const Prefix& p : sites.hq_networks) hub.allowed_ips.push_back(p);
  hub.endpoint = sites.endpoint;
  hub.persistent_keepalive = sites.keepalive;
  out.peers.push_back(std::move(hub));
  return write_wgquick(out, ExportOptions{});
}

}  // namespace wghub::config
