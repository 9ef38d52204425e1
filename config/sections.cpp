// Parsers for the interface, ports, dataplane and metrics sections.
#include <set>

#include "config/keys.hpp"
#include "config/parse.hpp"

namespace wghub::config::detail {

namespace {

bool valid_ifname(const std::string& name) {
  // Linux IFNAMSIZ is 16 including the NUL; "." and ".." would be path tricks in sysfs.
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '=' || c == '+' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// A next hop (gateway or route via) must be a neighbour on the port's subnet
// of its own family: `primary` (the port's `address`) or, for a dual-stack
// port, `secondary` (its `address6`). `missing_hint` is appended when the
// port has no address of the next hop's family.
std::optional<IpAddress> read_next_hop(const Doc& doc, const YAML::Node& node,
                                       const std::string& path, const char* what,
                                       const std::optional<InterfaceAddress>& primary,
                                       const std::optional<InterfaceAddress>& secondary = {},
                                       const std::string& missing_hint = {}) {
  const auto text = read_string(doc, node, path);
  if (!text) return std::nullopt;
  const auto ip = IpAddress::parse(*text);
  if (!ip) {
    doc.error(node, path, "'" + *text + "' is not a valid IPv4 or IPv6 address");
    return std::nullopt;
  }
  if (!primary) return ip;  // the address error is reported already
  const std::optional<InterfaceAddress> port_address =
      ip->family == primary->address.family                  ? primary
      : secondary && ip->family == secondary->address.family ? secondary
                                                             : std::nullopt;
  if (!port_address) {
    doc.error(node, path,
              std::string(what) + " " + *text + " is " +
                  (ip->family == Family::v4 ? "IPv4" : "IPv6") + " but the port address " +
                  primary->to_string() + " is not" + missing_hint);
    return std::nullopt;
  }
  const Prefix subnet = port_address->subnet();
  if (!subnet.contains(*ip)) {
    doc.error(node, path,
              std::string(what) + " " + *text + " is outside the port's subnet " +
                  subnet.to_string() + "; a next hop must be directly reachable");
    return std::nullopt;
  }
  if (*ip == port_address->address) {
    doc.error(node, path, std::string(what) + " " + *text + " is the port's own address");
    return std::nullopt;
  }
  return ip;
}

}  // namespace

namespace {

// A string parsed by T::parse (a Parsed<T>); a bad one is reported at node.
template <typename T>
std::optional<T> read_parsed(const Doc& doc, const YAML::Node& node, const std::string& path,
                             const char* hint = nullptr) {
  auto text = read_string(doc, node, path, hint);
  if (!text) return std::nullopt;
  auto parsed = T::parse(*text);
  if (!parsed) {
    doc.error(node, path, parsed.error);
    return std::nullopt;
  }
  return *parsed.value;
}

}  // namespace

std::optional<Prefix> read_prefix(const Doc& doc, const YAML::Node& node, const std::string& path) {
  return read_parsed<Prefix>(doc, node, path);
}

std::optional<Endpoint> read_endpoint(const Doc& doc, const YAML::Node& node,
                                      const std::string& path) {
  return read_parsed<Endpoint>(doc, node, path, "; quote IPv6 addresses: \"[fd00::1]:9586\"");
}

void parse_interface(const Doc& doc, const YAML::Node& node, const std::string& path,
                     Interface& out) {
  MapReader map(doc, node, path, {"name", "private_key_file", "listen_port", "address"});
  if (!map.ok()) return;

  if (auto n = map.get("name"); n.IsDefined()) {
    if (auto name = read_string(doc, n, map.path("name"))) {
      if (valid_ifname(*name)) {
        out.name = *name;
      } else {
        doc.error(n, map.path("name"),
                  "'" + *name +
                      "' is not a valid interface name; use 1 to 15 characters from A-Z a-z 0-9 "
                      "and _ = + . -");
      }
    }
  }

  if (auto n = map.require("private_key_file"); n.IsDefined()) {
    if (auto file = read_string(doc, n, map.path("private_key_file"))) {
      if (file->empty()) {
        doc.error(n, map.path("private_key_file"), "empty path; name the file 'wg genkey' wrote");
      } else {
        out.private_key_file = doc.resolve(*file);
        auto key = read_key_file(out.private_key_file, KeyKind::private_key);
        if (key.key) {
          out.private_key = std::move(key.key);
        } else {
          doc.error(n, map.path("private_key_file"), key.error);
        }
      }
    }
  }

  if (auto n = map.get("listen_port"); n.IsDefined()) {
    if (auto port = read_int(doc, n, map.path("listen_port"), "port", 1, 65535)) {
      out.listen_port = static_cast<std::uint16_t>(*port);
    }
  }

  if (auto n = map.get("address"); n.IsDefined()) {
    if (auto text = read_string(doc, n, map.path("address"))) {
      auto addr = InterfaceAddress::parse(*text);
      if (addr) {
        out.address = *addr.value;
      } else {
        doc.error(n, map.path("address"), addr.error);
      }
    }
  }
}

std::optional<PortDraft> parse_port(const Doc& doc, const YAML::Node& node, const std::string& path,
                                    const std::string& name) {
  MapReader map(doc, node, path,
                {"devargs", "address", "gateway", "address6", "gateway6", "routes"});
  if (!map.ok()) return std::nullopt;
  const std::size_t errors_before = doc.error_count();
  PortDraft draft;
  draft.name = name;
  draft.path = path;

  if (auto n = map.require("devargs"); n.IsDefined()) {
    if (auto devargs = read_string(doc, n, map.path("devargs"))) {
      if (devargs->empty()) {
        doc.error(n, map.path("devargs"),
                  "empty devargs; give a PCI address like 0000:3b:00.0 or a virtual device like "
                  "net_af_packet0,iface=veth0");
      }
      draft.port.devargs = *devargs;
    }
  }

  std::optional<InterfaceAddress> address;
  if (auto n = map.require("address"); n.IsDefined()) {
    draft.address_src = Source{doc.at(n), map.path("address")};
    if (auto text = read_string(doc, n, map.path("address"))) {
      auto parsed = InterfaceAddress::parse(*text);
      if (!parsed) {
        doc.error(n, map.path("address"), parsed.error);
      } else {
        const InterfaceAddress& a = *parsed.value;
        const Prefix subnet = a.subnet();
        // IPv4 subnets up to /30 reserve their first and last address (RFC 3021 exempts /31).
        const bool v4_small = a.address.family == Family::v4 && a.length <= 30;
        IpAddress broadcast = subnet.address();
        for (unsigned bit = a.length; v4_small && bit < 32; ++bit) {
          broadcast.bytes[bit / 8] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
        }
        if (v4_small && a.address == subnet.address()) {
          doc.error(n, map.path("address"),
                    *text + " is the network address of " + subnet.to_string() +
                        "; give the appliance's own host address in that subnet");
        } else if (v4_small && a.address == broadcast) {
          doc.error(n, map.path("address"),
                    *text + " is the broadcast address of " + subnet.to_string() +
                        "; give the appliance's own host address in that subnet");
        } else {
          address = a;
          draft.port.address = a;
        }
      }
    }
  }

  if (auto n = map.get("gateway"); n.IsDefined()) {
    draft.port.gateway =
        read_next_hop(doc, n, map.path("gateway"), "gateway", address, std::nullopt,
                      address && address->address.family == Family::v4 ? "; an IPv6 default "
                                                                         "next hop is gateway6"
                                                                       : "");
  }

  // Dual stack: an IPv6 address next to the IPv4 `address`.
  std::optional<InterfaceAddress> address6;
  if (auto n = map.get("address6"); n.IsDefined()) {
    draft.address6_src = Source{doc.at(n), map.path("address6")};
    if (auto text = read_string(doc, n, map.path("address6"))) {
      auto parsed = InterfaceAddress::parse(*text);
      if (!parsed) {
        doc.error(n, map.path("address6"), parsed.error);
      } else if (parsed.value->address.family != Family::v6) {
        doc.error(n, map.path("address6"),
                  *text +
                      " is IPv4; address6 takes the port's IPv6 address, e.g. "
                      "\"fd00::1/64\" (the IPv4 address goes in address)");
      } else if (address && address->address.family == Family::v6) {
        doc.error(n, map.path("address6"),
                  "address " + address->to_string() +
                      " is IPv6 already; address6 is for an IPv6 address next to an IPv4 "
                      "address");
      } else if (parsed.value->length < 128 &&
                 parsed.value->address == parsed.value->subnet().address()) {
        // RFC 4291 2.6.1: the all-zero host is every router's anycast address.
        doc.error(n, map.path("address6"),
                  *text + " is the Subnet-Router anycast address of " +
                      parsed.value->subnet().to_string() +
                      "; give the appliance's own host address in that subnet");
      } else {
        address6 = *parsed.value;
        draft.port.address6 = address6;
      }
    }
  }

  if (auto n = map.get("gateway6"); n.IsDefined()) {
    if (!address6) {
      if (!draft.address6_src)
        doc.error(n, map.path("gateway6"),
                  "gateway6 needs the port's IPv6 address: add " + map.path("address6"));
    } else {
      draft.port.gateway6 = read_next_hop(doc, n, map.path("gateway6"), "gateway6", address6);
    }
  }

  if (auto n = map.get("routes"); n.IsDefined()) {
    const std::string rpath = map.path("routes");
    if (expect_list(doc, n, rpath, "[{prefix: 172.16.0.0/12, via: 10.0.0.254}]")) {
      for (std::size_t i = 0; i < n.size(); ++i) {
        const std::string epath = element(rpath, i);
        MapReader route(doc, n[i], epath, {"prefix", "via"});
        if (!route.ok()) continue;
        std::optional<Prefix> prefix;
        Source prefix_src;
        if (auto p = route.require("prefix"); p.IsDefined()) {
          prefix_src = Source{doc.at(p), route.path("prefix")};
          prefix = read_prefix(doc, p, route.path("prefix"));
        }
        std::optional<IpAddress> via;
        if (auto v = route.require("via"); v.IsDefined()) {
          via = read_next_hop(doc, v, route.path("via"), "via", address, address6,
                              address && address->address.family == Family::v4 && !address6
                                  ? "; add the port's IPv6 address as address6"
                                  : "");
        }
        if (prefix && via) {
          if (prefix->family() != via->family) {
            doc.error(prefix_src.at, prefix_src.field,
                      "route " + prefix->to_string() + " and its next hop " + via->to_string() +
                          " are of different address families");
          } else {
            draft.port.routes.push_back(Route{*prefix, *via});
            draft.route_src.push_back(prefix_src);
          }
        }
      }
    }
  }
  if (doc.error_count() != errors_before) return std::nullopt;
  return draft;
}

void parse_dataplane(const Doc& doc, const YAML::Node& node, const std::string& path,
                     Dataplane& out) {
  MapReader map(doc, node, path, {"lcores", "burst_size", "handshake_threads"});
  if (!map.ok()) return;

  if (auto n = map.get("lcores"); n.IsDefined()) {
    const std::string lpath = map.path("lcores");
    if (expect_list(doc, n, lpath, "[1, 2, 3]")) {
      if (n.size() == 0) {
        doc.error(n, lpath, "the list is empty; at least one worker lcore is needed, e.g. [1]");
      }
      std::vector<unsigned> lcores;
      std::set<unsigned> seen;
      for (std::size_t i = 0; i < n.size(); ++i) {
        const std::string epath = element(lpath, i);
        if (n[i].IsScalar() && n[i].Scalar() == "0") {
          doc.error(n[i], epath,
                    "lcore 0 is the main lcore and runs the control thread; workers start at 1");
          continue;
        }
        auto id = read_int(doc, n[i], epath, "lcore", 1, kMaxLcore);
        if (!id) continue;
        if (!seen.insert(static_cast<unsigned>(*id)).second) {
          doc.error(n[i], epath, "lcore " + std::to_string(*id) + " is listed twice");
        } else {
          lcores.push_back(static_cast<unsigned>(*id));
        }
      }
      out.lcores = std::move(lcores);
    }
  }

  if (auto n = map.get("burst_size"); n.IsDefined()) {
    if (auto burst = read_int(doc, n, map.path("burst_size"), "burst size", 1, kMaxBurstSize)) {
      out.burst_size = static_cast<std::uint32_t>(*burst);
    }
  }

  if (auto n = map.get("handshake_threads"); n.IsDefined()) {
    if (auto t = read_int(doc, n, map.path("handshake_threads"), "thread count", 0,
                          kMaxHandshakeThreads)) {
      out.handshake_threads = static_cast<std::uint32_t>(*t);
    }
  }
}

void parse_metrics(const Doc& doc, const YAML::Node& node, const std::string& path, Metrics& out) {
  MapReader map(doc, node, path,
                {"enabled", "listen", "per_peer", "per_peer_limit", "peer_endpoints"});
  if (!map.ok()) return;

  if (auto n = map.get("enabled"); n.IsDefined()) {
    if (auto enabled = read_bool(doc, n, map.path("enabled"))) out.enabled = *enabled;
  }
  if (auto n = map.get("listen"); n.IsDefined()) {
    if (auto ep = read_endpoint(doc, n, map.path("listen"))) out.listen = *ep;
  }
  if (auto n = map.get("per_peer"); n.IsDefined()) {
    if (auto text = read_string(doc, n, map.path("per_peer"))) {
      if (*text == "all") {
        out.per_peer = PerPeerMetrics::kAll;
      } else if (*text == "none") {
        out.per_peer = PerPeerMetrics::kNone;
      } else {
        doc.error(n, map.path("per_peer"), "expected all or none, got '" + *text + "'");
      }
    }
  }
  if (auto n = map.get("peer_endpoints"); n.IsDefined()) {
    if (auto on = read_bool(doc, n, map.path("peer_endpoints"))) out.peer_endpoints = *on;
  }
  if (auto n = map.get("per_peer_limit"); n.IsDefined()) {
    if (auto limit =
            read_int(doc, n, map.path("per_peer_limit"), "per-peer limit", 1, kMaxPerPeerLimit)) {
      out.per_peer_limit = static_cast<std::uint32_t>(*limit);
      // Two settings that disagree: say so rather than pick one.
      if (out.per_peer == PerPeerMetrics::kNone)
        doc.error(n, map.path("per_peer_limit"),
                  "has no effect with per_peer: none; remove one of the two");
    }
  }
}

}  // namespace wghub::config::detail
