// The `sites:` section (docs/config.md, "sites"): the overlay pool, the
// endpoint sites dial and what their wg-quick files carry. Read by `wghub
// site` (config/site_plan.hpp); the running hub does not use it.
#include "config/parse.hpp"
#include "config/site_plan.hpp"

namespace wghub::config::detail {

void parse_sites(const Doc& doc, const YAML::Node& node, const std::string& path,
                 std::optional<Sites>& out) {
  MapReader map(doc, node, path, {"overlay", "endpoint", "hq_networks", "mtu", "keepalive"});
  if (!map.ok()) return;
  const std::size_t errors_before = doc.error_count();
  Sites sites;

  if (auto n = map.require("overlay"); n.IsDefined()) {
    if (auto prefix = read_prefix(doc, n, map.path("overlay"))) {
      if (prefix->length() + 2 > prefix->address().max_prefix_length()) {
        doc.error(n, map.path("overlay"),
                  prefix->to_string() + " has no room for sites; give a pool such as 10.99.0.0/16");
      } else {
        sites.overlay = *prefix;
      }
    }
  }

  if (auto n = map.require("endpoint"); n.IsDefined()) {
    if (auto text = read_string(doc, n, map.path("endpoint"),
                                "; quote IPv6 endpoints: \"[2001:db8::1]:51820\"")) {
      if (const std::string why = site_endpoint_problem(*text); !why.empty()) {
        doc.error(n, map.path("endpoint"), why);
      } else {
        sites.endpoint = *text;
      }
    }
  }

  if (auto n = map.get("hq_networks"); n.IsDefined()) {
    read_prefix_list(
        doc, n, map.path("hq_networks"), "[10.0.0.0/24, 172.16.0.0/12]",
        [&](const Prefix& prefix, const YAML::Node& at, const std::string& epath) {
          if (sites.overlay.length() != 0 &&
              (sites.overlay.contains(prefix) || prefix.contains(sites.overlay))) {
            doc.error(at, epath,
                      prefix.to_string() + " overlaps the overlay pool " +
                          sites.overlay.to_string() +
                          "; sites get the pool anyway, list only the networks behind the hub");
          } else {
            sites.hq_networks.push_back(prefix);
          }
        });
  }

  if (auto n = map.get("mtu"); n.IsDefined()) {
    if (auto mtu = read_int(doc, n, map.path("mtu"), "MTU", 576, 9000))
      sites.mtu = static_cast<std::uint16_t>(*mtu);
  }
  if (auto n = map.get("keepalive"); n.IsDefined()) {
    if (auto secs = read_int(doc, n, map.path("keepalive"), "keepalive interval", 0, 65535))
      sites.keepalive = static_cast<std::uint16_t>(*secs);
  }
  if (doc.error_count() == errors_before) out = std::move(sites);
}

}  // namespace wghub::config::detail
