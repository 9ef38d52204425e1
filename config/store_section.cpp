// The `store:` section: where the peers come from when an etcd cluster holds
// them (docs/ha.md, docs/config.md#store).
#include "config/parse.hpp"

namespace wghub::config::detail {

namespace {

// The URL forms libcurl is given; anything else is a typo we can name now
// rather than a connection error at start.
bool valid_endpoint(const std::string& url) {
  for (const char* scheme : {"http://", "https://"}) {
    const std::string s(scheme);
    if (url.size() > s.size() && url.compare(0, s.size(), s) == 0)
      return url.find_first_of(" \t\r\n/", s.size()) == std::string::npos;
  }
  return false;
}

// A key prefix: absolute-looking and ending in '/', so that "/wghub/peers/"
// never matches "/wghub/peers-old/x" and a peer's key is prefix + name.
bool valid_prefix(const std::string& prefix) {
  return prefix.size() >= 2 && prefix.front() == '/' && prefix.back() == '/' &&
         prefix.find_first_of(" \t\r\n") == std::string::npos;
}

}  // namespace

void parse_store(const Doc& doc, const YAML::Node& node, const std::string& path, Store& out,
                 const std::string& interface_name) {
  MapReader map(doc, node, path,
                {"endpoints", "prefix", "ca_file", "cert_file", "key_file", "user", "password_file",
                 "cache_file", "election", "node_name", "lease_ttl", "leader_key",
                 "failsafe_listen", "failsafe_peers"});
  if (!map.ok()) return;
  if (auto n = map.require("endpoints"); n.IsDefined()) {
    const std::string field = map.path("endpoints");
    if (expect_list(doc, n, field, "[\"http://10.0.0.5:2379\", \"http://10.0.0.6:2379\"]")) {
      if (n.size() == 0) doc.error(n, field, "the list is empty; name at least one etcd endpoint");
      for (std::size_t i = 0; i < n.size(); ++i) {
        const std::string epath = element(field, i);
        auto url = read_string(doc, n[i], epath);
        if (!url) continue;
        if (!valid_endpoint(*url)) {
          doc.error(n[i], epath,
                    "'" + *url +
                        "' is not an etcd client URL; use http://HOST:PORT or https://HOST:PORT "
                        "(etcd's --advertise-client-urls)");
          continue;
        }
        out.endpoints.push_back(*url);
      }
    }
  }
  if (auto n = map.get("prefix"); n.IsDefined()) {
    if (auto text = read_string(doc, n, map.path("prefix"))) {
      if (valid_prefix(*text)) {
        out.prefix = *text;
      } else {
        doc.error(n, map.path("prefix"),
                  "'" + *text +
                      "' is not a key prefix; use one that starts and ends with '/', "
                      "e.g. /wghub/peers/");
      }
    }
  }
  // Paths: resolved against the config file's directory, like key files.
  struct PathField {
    const char* key;
    std::string* to;
  };
  for (const PathField& f :
       {PathField{"ca_file", &out.ca_file}, PathField{"cert_file", &out.cert_file},
        PathField{"key_file", &out.key_file}, PathField{"password_file", &out.password_file},
        PathField{"cache_file", &out.cache_file}}) {
    if (auto n = map.get(f.key); n.IsDefined()) {
      if (auto text = read_string(doc, n, map.path(f.key))) {
        if (text->empty())
          doc.error(n, map.path(f.key), "empty path; name a file or leave the key out");
        else
          *f.to = doc.resolve(*text);
      }
    }
  }
  if (out.cert_file.empty() != out.key_file.empty()) {
    doc.error(node, map.path(out.cert_file.empty() ? "cert_file" : "key_file"),
              "cert_file and key_file go together (etcd's client certificate and its key)");
  }
  if (auto n = map.get("user"); n.IsDefined()) {
    if (auto text = read_string(doc, n, map.path("user"))) out.user = *text;
  }
  if (out.user.empty() != out.password_file.empty()) {
    doc.error(node, map.path(out.user.empty() ? "user" : "password_file"),
              "user and password_file go together (etcd authentication); the password is read "
              "from the file so that it is not in the config");
  }
  if (auto n = map.get("election"); n.IsDefined()) {
    if (auto on = read_bool(doc, n, map.path("election"))) out.election = *on;
  }
  if (auto n = map.get("node_name"); n.IsDefined()) {
    if (auto text = read_string(doc, n, map.path("node_name"))) {
      if (text->empty() || text->find_first_of(" \t\r\n") != std::string::npos)
        doc.error(n, map.path("node_name"),
                  "'" + *text + "' is not a node name; use a word without spaces, e.g. hub-a");
      else
        out.node_name = *text;
    }
  }
  if (auto n = map.get("lease_ttl"); n.IsDefined()) {
    if (auto ttl = read_int(doc, n, map.path("lease_ttl"), "lease TTL (seconds)", 2, 60))
      out.lease_ttl = static_cast<std::uint32_t>(*ttl);
  }
  if (auto n = map.get("leader_key"); n.IsDefined()) {
    if (auto text = read_string(doc, n, map.path("leader_key"))) {
      if (text->size() < 2 || text->front() != '/' ||
          text->compare(0, out.prefix.size(), out.prefix) == 0)
        doc.error(n, map.path("leader_key"),
                  "'" + *text +
                      "' is not a leader key; use one that starts with '/' and is "
                      "outside the peers' prefix " +
                      out.prefix + " (e.g. /wghub/leader)");
      else
        out.leader_key = *text;
    }
  }
  if (auto n = map.get("failsafe_listen"); n.IsDefined())
    out.failsafe_listen = read_endpoint(doc, n, map.path("failsafe_listen"));
  if (auto n = map.get("failsafe_peers"); n.IsDefined()) {
    const std::string field = map.path("failsafe_peers");
    if (expect_list(doc, n, field, "[\"10.9.0.2:51821\"]")) {
      for (std::size_t i = 0; i < n.size(); ++i) {
        const std::string epath = element(field, i);
        auto ep = read_endpoint(doc, n[i], epath);
        if (!ep) continue;
        if (out.failsafe_listen && ep->family() != out.failsafe_listen->family())
          doc.error(n[i], epath,
                    ep->to_string() + " is not of failsafe_listen's address family (" +
                        out.failsafe_listen->to_string() + ")");
        else
          out.failsafe_peers.push_back(*ep);
      }
    }
    if (!out.failsafe_listen)
      doc.error(n, field,
                "failsafe_peers needs failsafe_listen: the address this hub answers the other "
                "hubs' promise requests on");
    else if (n.IsSequence() && n.size() == 0)
      doc.error(n, field, "the list is empty; name every other hub of the group");
    if (!out.election)
      doc.error(n, field,
                "failsafe_peers needs election: true (failsafe mode keeps an elected "
                "hub answering while etcd is away)");
  } else if (auto l = map.get("failsafe_listen"); l.IsDefined()) {
    doc.error(l, map.path("failsafe_listen"),
              "failsafe_listen needs failsafe_peers: every other hub of the group");
  }
  if (out.leader_key.empty()) {
    // "/wghub/peers/" -> "/wghub/leader": beside the peers, never one of them.
    const std::string trimmed = out.prefix.substr(0, out.prefix.size() - 1);
    out.leader_key = trimmed.substr(0, trimmed.rfind('/') + 1) + "leader";
  }
  if (out.cache_file.empty())
    out.cache_file = std::string(kDefaultStoreCacheDir) + "/" + interface_name + ".store.json";
}

}  // namespace wghub::config::detail
