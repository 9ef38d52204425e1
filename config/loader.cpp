// The top level of a config file: dispatches the sections to their parsers,
// merges inline peers with the peers_dir files, runs the cross-checks and
// freezes the result (see loader.hpp).
#include "config/loader.hpp"

#include <exception>
#include <iterator>
#include <optional>

#include "config/file_trust.hpp"
#include "config/keys.hpp"
#include "config/parse.hpp"
#include "config/peers_split.hpp"
#include "config/sources.hpp"
#include "config/yaml_reader.hpp"
#include "crypto/blake2s.hpp"

namespace wghub::config {

namespace {

using detail::Doc;
using detail::MapReader;

// How a load went, beyond its result (LoadResult's counts).
struct LoadStats {
  std::size_t files_parsed = 0;
  std::size_t peers_reused = 0;
};

// The common end of a load: the cross-checks (unless the peers are known to
// be those of a previous load that passed them), then the frozen state with
// the sources it was read from.
std::shared_ptr<const DesiredState> finish(const Doc& doc, std::shared_ptr<DesiredState> state,
                                           const std::vector<detail::PortDraft>& ports,
                                           std::vector<detail::PeerDraft>& peers,
                                           std::size_t inline_peers, std::string peers_dir,
                                           detail::PeersDirLoad& dir, const TextDigest& digest,
                                           bool validated_before, std::vector<ConfigError>& errors,
                                           bool from_store = false) {
  if (!validated_before) {
    detail::validate(doc, ports, peers);
    if (ports.size() == 2)
      detail::check_reserved_prefixes(doc, state->interface, state->ports, peers);
  }
  if (!errors.empty()) return nullptr;
  state->peers.reserve(peers.size());
  for (auto& p : peers) state->peers.push_back(std::move(p.peer));
  state->index_peers();
  auto sources = std::make_shared<LoadedSources>();
  sources->file = doc.file();
  sources->file_digest = digest;
  sources->interface = state->interface;
  sources->ports = state->ports;
  sources->dataplane = state->dataplane;
  sources->metrics = state->metrics;
  sources->sites = state->sites;
  sources->store = state->store;
  sources->inline_peers = inline_peers;
  state->peers_dir = peers_dir;
  sources->peers_dir = std::move(peers_dir);
  sources->peer_files = std::move(dir.files);
  sources->from_store = from_store;
  state->sources = std::move(sources);
  return state;
}

std::shared_ptr<const DesiredState> build(const Doc& doc, const YAML::Node& root,
                                          const TextDigest& digest,
                                          const detail::PeerFileReuse* reuse, LoadStats& stats,
                                          std::vector<ConfigError>& errors,
                                          const StoreSnapshot* store = nullptr,
                                          detail::SplitPeers* split = nullptr) {
  ++stats.files_parsed;
  if (!root.IsDefined() || root.IsNull()) {
    doc.error(Location{doc.file(), 0, 0}, "",
              "the file is empty; expected at least the 'interface' and 'ports' sections");
    return nullptr;
  }
  MapReader top(
      doc, root, "",
      {"interface", "ports", "dataplane", "metrics", "sites", "store", "peers_dir", "peers"});
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
  if (auto n = top.get("sites"); n.IsDefined()) {
    detail::parse_sites(doc, n, "sites", state->sites);
    // The default HQ networks: what the hub's LAN port reaches.
    if (state->sites && state->sites->hq_networks.empty() && ports.size() == 2) {
      const Port& lan = state->ports.lan;
      state->sites->hq_networks.push_back(lan.address.subnet());
      if (lan.address6) state->sites->hq_networks.push_back(lan.address6->subnet());
      for (const Route& r : lan.routes) state->sites->hq_networks.push_back(r.prefix);
    }
  }
  if (auto n = top.get("store"); n.IsDefined()) {
    detail::parse_store(doc, n, "store", state->store, state->interface.name);
  }

  std::vector<detail::PeerDraft> peers;
  if (store != nullptr && state->store.enabled()) {
    // The store's peers run; the file's `peers` and `peers_dir` are what
    // `wghub store push` puts there, and are not read here (docs/ha.md).
    detail::PeersDirLoad values;
    values.reuse = reuse;
    detail::load_store_peers(state->store, *store, errors, peers, values);
    stats.peers_reused += values.reused;
    return finish(doc, std::move(state), ports, peers, 0, {}, values, digest, false, errors, true);
  }

  if (split != nullptr) {
    // Parsed on every core (peers_split.hpp); the messages in file order.
    peers = std::move(split->peers);
    errors.insert(errors.end(), std::make_move_iterator(split->errors.begin()),
                  std::make_move_iterator(split->errors.end()));
  } else if (auto n = top.get("peers"); n.IsDefined()) {
    if (detail::expect_list(doc, n, "peers",
                            "[{name: site-a, public_key: ..., allowed_ips: [...]}]")) {
      for (std::size_t i = 0; i < n.size(); ++i) {
        if (auto peer = detail::parse_peer(doc, n[i], detail::element("peers", i), "")) {
          peers.push_back(std::move(*peer));
        }
      }
    }
  }
  const std::size_t inline_peers = peers.size();
  std::string peers_dir;
  detail::PeersDirLoad dir;
  dir.reuse = reuse;
  if (auto n = top.get("peers_dir"); n.IsDefined()) {
    if (auto text = detail::read_string(doc, n, "peers_dir")) {
      if (text->empty()) {
        doc.error(n, "peers_dir", "empty path; name a directory or leave peers_dir out");
      } else {
        peers_dir = doc.resolve(*text);
        detail::load_peers_dir(doc, doc.at(n), "peers_dir", peers_dir, errors, peers, dir);
      }
    }
  }
  stats.files_parsed += dir.parsed;
  stats.peers_reused += dir.reused;
  return finish(doc, std::move(state), ports, peers, inline_peers, std::move(peers_dir), dir,
                digest, false, errors);
}

// parse_document_split, then build.
std::shared_ptr<const DesiredState> parse_and_build(const Doc& doc, const std::string& text,
                                                    const TextDigest& digest,
                                                    const detail::PeerFileReuse* reuse,
                                                    LoadStats& stats,
                                                    std::vector<ConfigError>& errors,
                                                    const StoreSnapshot* store = nullptr) {
  std::optional<detail::SplitDocument> parsed = detail::parse_document_split(doc, text);
  if (!parsed) return nullptr;
  return build(doc, parsed->root, digest, reuse, stats, errors, store,
               parsed->peers ? &*parsed->peers : nullptr);
}

// The main file's text is that of `previous`'s load: its settings and inline
// peers come from there, unparsed. Null (and no error) when a key file it
// names no longer holds the same key: the caller parses the file then.
// The main file's settings as the load of `src` gave them, with the port
// drafts the cross-checks index; null when the private key file no longer
// holds the same key (the file is parsed then).
std::shared_ptr<DesiredState> settings_from(const Doc& doc, const LoadedSources& src,
                                            std::vector<detail::PortDraft>& ports) {
  if (!src.interface.private_key_file.empty() &&
      !detail::key_file_unchanged(src.interface.private_key_file, KeyKind::private_key,
                                  src.interface.private_key))
    return nullptr;
  auto state = std::make_shared<DesiredState>();
  state->source_file = doc.file();
  state->interface = src.interface;
  state->ports = src.ports;
  state->dataplane = src.dataplane;
  state->metrics = src.metrics;
  state->store = src.store;
  state->sites = src.sites;
  for (const char* name : {"wan", "lan"}) {
    detail::PortDraft draft;
    draft.port = std::string(name) == "wan" ? src.ports.wan : src.ports.lan;
    draft.name = name;
    draft.path = std::string("ports.") + name;
    if (draft.port.address6) draft.address6_src = detail::Source{};
    draft.route_src.resize(draft.port.routes.size());
    ports.push_back(std::move(draft));
  }
  return state;
}

std::shared_ptr<const DesiredState> build_unchanged(const Doc& doc, const DesiredState& previous,
                                                    const LoadedSources& src,
                                                    const detail::PeerFileReuse& reuse,
                                                    LoadStats& stats,
                                                    std::vector<ConfigError>& errors) {
  std::vector<detail::PortDraft> ports;
  auto state = settings_from(doc, src, ports);
  if (state == nullptr) return nullptr;
  std::vector<detail::PeerDraft> peers;
  peers.reserve(previous.peers.size());
  for (std::size_t i = 0; i < src.inline_peers; ++i) {
    const Peer& p = previous.peers[i];
    if (!p.preshared_key_file.empty() &&
        !detail::key_file_unchanged(p.preshared_key_file, KeyKind::preshared_key, p.preshared_key))
      return nullptr;
    peers.push_back(detail::reused_draft(p, detail::element("peers", i)));
  }
  stats.peers_reused += src.inline_peers;

  detail::PeersDirLoad dir;
  dir.reuse = &reuse;
  if (!src.peers_dir.empty()) {
    detail::load_peers_dir(doc, Location{doc.file(), 0, 0}, "peers_dir", src.peers_dir, errors,
                           peers, dir);
  }
  stats.files_parsed += dir.parsed;
  stats.peers_reused += dir.reused;
  // Every file as before and every peer reused: the peers are those of the
  // previous load, which passed the cross-checks.
  const bool same_peers = dir.parsed == 0 && dir.files.size() == src.peer_files.size();
  return finish(doc, std::move(state), ports, peers, src.inline_peers, src.peers_dir, dir,
                src.file_digest, same_peers, errors);
}

// The previous load's sources when they describe this file and that state.
const LoadedSources* reusable(const DesiredState* previous, const std::string& path) {
  if (previous == nullptr || previous->sources == nullptr) return nullptr;
  const LoadedSources& s = *previous->sources;
  if (s.from_store || s.file != path ||
      s.inline_peers + s.peer_files.size() != previous->peers.size())
    return nullptr;
  return &s;
}

// A load with a store snapshot: the values whose text is that of the
// previous load's give their peers unparsed, and so does the main file its
// settings when its text is the same (it may hold the many peers that
// `store push` reads, which are not used here). With an error, done again
// without reuse (every message with positions).
void load_with_store(const Doc& doc, const std::string& text, const DesiredState* previous,
                     const StoreSnapshot& store, std::vector<ConfigError>& errors,
                     LoadResult& result) {
  const TextDigest digest = digest_text(text);
  detail::PeerFileReuse reuse;
  const LoadedSources* src = previous != nullptr ? previous->sources.get() : nullptr;
  if (src != nullptr && src->from_store && src->file == doc.file() &&
      src->peer_files.size() == previous->peers.size()) {
    reuse.reserve(src->peer_files.size());
    for (std::size_t i = 0; i < src->peer_files.size(); ++i)
      reuse.try_emplace(src->peer_files[i].first, src->peer_files[i].second, &previous->peers[i]);
  } else {
    src = nullptr;
  }
  for (const bool with_reuse : {src != nullptr, false}) {
    LoadStats stats;
    std::vector<detail::PortDraft> ports;
    std::shared_ptr<DesiredState> same_file;
    if (with_reuse && src->file_digest == digest) same_file = settings_from(doc, *src, ports);
    if (same_file != nullptr && same_file->store.enabled()) {
      std::vector<detail::PeerDraft> peers;
      detail::PeersDirLoad values;
      values.reuse = &reuse;
      detail::load_store_peers(same_file->store, store, errors, peers, values);
      stats.peers_reused += values.reused;
      result.state = finish(doc, std::move(same_file), ports, peers, 0, {}, values, digest, false,
                            errors, true);
    } else {
      result.state =
          parse_and_build(doc, text, digest, with_reuse ? &reuse : nullptr, stats, errors, &store);
    }
    result.files_parsed = stats.files_parsed;
    result.peers_reused = stats.peers_reused;
    if (errors.empty() || !with_reuse || stats.peers_reused == 0) return;
    errors.clear();
    result.state = nullptr;
  }
}

LoadResult load(const Doc& doc, const std::optional<std::string>& text,
                std::vector<ConfigError>& errors, const DesiredState* previous = nullptr,
                const StoreSnapshot* store = nullptr) {
  LoadResult result;
  if (text && store != nullptr) {
    try {
      load_with_store(doc, *text, previous, *store, errors, result);
    } catch (const std::exception& e) {
      doc.error(Location{doc.file(), 0, 0}, "", std::string("internal error: ") + e.what());
    }
  } else if (text) {
    try {
      const TextDigest digest = digest_text(*text);
      LoadStats stats;
      const LoadedSources* src = reusable(previous, doc.file());
      detail::PeerFileReuse reuse;
      if (src != nullptr) {
        reuse.reserve(src->peer_files.size());
        for (std::size_t i = 0; i < src->peer_files.size(); ++i) {
          const auto& [file, file_digest] = src->peer_files[i];
          reuse.try_emplace(file, file_digest, &previous->peers[src->inline_peers + i]);
        }
        // A load that reused anything and found an error is done again
        // without reuse: its messages are then those of a full load, every
        // position known.
        bool again = false;
        if (src->file_digest == digest) {
          result.state = build_unchanged(doc, *previous, *src, reuse, stats, errors);
          again = !errors.empty();
        }
        if (result.state == nullptr && !again) {
          stats = LoadStats{};  // a key file changed: parse the main file
          result.state = parse_and_build(doc, *text, digest, &reuse, stats, errors);
          again = !errors.empty() && stats.peers_reused != 0;
        }
        if (again) {
          errors.clear();
          result.state = nullptr;
          src = nullptr;
        }
      }
      if (src == nullptr) {
        stats = LoadStats{};
        result.state = parse_and_build(doc, *text, digest, nullptr, stats, errors);
      }
      result.files_parsed = stats.files_parsed;
      result.peers_reused = stats.peers_reused;
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

TextDigest digest_text(std::string_view text) {
  TextDigest out;
  crypto::blake2s(out, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  return out;
}

std::string LoadResult::error_text() const {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out;
}

LoadResult load_config_file(const std::string& path, const DesiredState* previous,
                            const StoreSnapshot* store) {
  std::vector<ConfigError> errors;
  const Doc doc(path, errors);
  // Whoever can write the file decides who may connect (file_trust.hpp).
  if (const std::string why = untrusted_because(path, TrustedKind::config_file); !why.empty()) {
    doc.error(Location{path, 0, 0}, "", why);
    return load(doc, std::nullopt, errors);
  }
  const auto text = detail::read_text_file(doc, "config file");
  return load(doc, text, errors, previous, store);
}

LoadResult load_config_string(std::string_view yaml, const std::string& virtual_path) {
  std::vector<ConfigError> errors;
  const Doc doc(virtual_path, errors);
  return load(doc, std::string(yaml), errors);
}

}  // namespace wghub::config
