// The top level of a config file: dispatches the sections to their parsers,
// merges inline peers with the peers_dir files, runs the cross-checks and
// freezes the result (see loader.hpp).
#include "config/loader.hpp"

#include <exception>
#include <optional>

#include "config/file_trust.hpp"
#include "config/parse.hpp"
#include "config/yaml_reader.hpp"

namespace wghub::config {

namespace {

using detail::Doc;
using detail::MapReader;

std::shared_ptr<const DesiredState> build(const Doc& doc, const YAML::Node& root,
                                          std::vector<ConfigError>& errors) {
  if (!root.IsDefined() || root.IsNull()) {
    doc.error(Location{doc.file(), 0, 0}, "",
              "the file is empty; expected at least the 'interface' and 'ports' sections");
    return nullptr;
  }
  MapReader top(doc, root, "",
                {"interface", "ports", "dataplane", "metrics", "peers_dir", "peers"});
  if (!top.ok()) return nullptr;

  auto state = std::make_shared<DesiredState>();
  state->source_file = doc.file();

  if (auto n = top.require("interface"); n.IsDefined()) {
    detail::parse_interface(doc, n, "interface", state->interface);
  }

  std::vector<detail::PortDraft> ports;
  if (auto n = top.require("ports"); n.IsDefined()) {
    MapReader map(doc, n, "ports", {"wan", "lan"});
    for (const char* name : {"wan", "lan"}) {
      if (auto p = map.require(name); p.IsDefined()) {
        if (auto draft = detail::parse_port(doc, p, map.path(name), name)) {
          ports.push_back(std::move(*draft));
        }
      }
    }
    for (const auto& p : ports) (p.name == "wan" ? state->ports.wan : state->ports.lan) = p.port;
  }

  if (auto n = top.get("dataplane"); n.IsDefined()) {
    detail::parse_dataplane(doc, n, "dataplane", state->dataplane);
  }
  if (auto n = top.get("metrics"); n.IsDefined()) {
    detail::parse_metrics(doc, n, "metrics", state->metrics);
  }

  std::vector<detail::PeerDraft> peers;
  if (auto n = top.get("peers"); n.IsDefined()) {
    if (detail::expect_list(doc, n, "peers",
                            "[{name: site-a, public_key: ..., allowed_ips: [...]}]")) {
      for (std::size_t i = 0; i < n.size(); ++i) {
        if (auto peer = detail::parse_peer(doc, n[i], detail::element("peers", i), "")) {
          peers.push_back(std::move(*peer));
        }
      }
    }
  }
  if (auto n = top.get("peers_dir"); n.IsDefined()) {
    if (auto dir = detail::read_string(doc, n, "peers_dir")) {
      if (dir->empty()) {
        doc.error(n, "peers_dir", "empty path; name a directory or leave peers_dir out");
      } else {
        detail::load_peers_dir(doc, doc.at(n), "peers_dir", doc.resolve(*dir), errors, peers);
      }
    }
  }

  detail::validate(doc, ports, peers);
  if (ports.size() == 2)
    detail::check_reserved_prefixes(doc, state->interface, state->ports, peers);

  if (!errors.empty()) return nullptr;
  state->peers.reserve(peers.size());
  for (auto& p : peers) state->peers.push_back(std::move(p.peer));
  state->index_peers();
  return state;
}

LoadResult load(const Doc& doc, const std::optional<std::string>& text,
                std::vector<ConfigError>& errors) {
  LoadResult result;
  if (text) {
    try {
      if (auto root = detail::parse_document(doc, *text)) result.state = build(doc, *root, errors);
    } catch (const std::exception& e) {
      // yaml-cpp can throw from node access on malformed input; keep it a value.
      doc.error(Location{doc.file(), 0, 0}, "", std::string("internal error: ") + e.what());
    }
  }
  result.errors = std::move(errors);
  if (!result.errors.empty()) result.state = nullptr;
  return result;
}

}  // namespace

std::string LoadResult::error_text() const {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out;
}

LoadResult load_config_file(const std::string& path) {
  std::vector<ConfigError> errors;
  const Doc doc(path, errors);
  // Whoever can write the file decides who may connect (file_trust.hpp).
  if (const std::string why = untrusted_because(path, TrustedKind::config_file); !why.empty()) {
    doc.error(Location{path, 0, 0}, "", why);
    return load(doc, std::nullopt, errors);
  }
  const auto text = detail::read_text_file(doc, "config file");
  return load(doc, text, errors);
}

LoadResult load_config_string(std::string_view yaml, const std::string& virtual_path) {
  std::vector<ConfigError> errors;
  const Doc doc(virtual_path, errors);
  return load(doc, std::string(yaml), errors);
}

}  // namespace wghub::config
