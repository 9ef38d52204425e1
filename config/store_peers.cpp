// Store values <-> peers (see store_peers.hpp), and the loader's step that
// turns a snapshot into peer drafts.
#include "config/store_peers.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>

#include "config/parse.hpp"
#include "crypto/base64.hpp"

namespace wghub::config {

std::string store_key(const Store& store, const Peer& peer) {
  return store.prefix + peer.name;
}

std::string store_value(const Peer& peer) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << peer.name;
  out << YAML::Key << "public_key" << YAML::Value << YAML::DoubleQuoted
      << crypto::key_to_base64(peer.public_key.data());
  out << YAML::Key << "allowed_ips" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const Prefix& p : peer.allowed_ips) out << YAML::DoubleQuoted << p.to_string();
  out << YAML::EndSeq;
  if (peer.endpoint)
    out << YAML::Key << "endpoint" << YAML::Value << YAML::DoubleQuoted
        << peer.endpoint->to_string();
  if (peer.persistent_keepalive != 0)
    out << YAML::Key << "persistent_keepalive" << YAML::Value << peer.persistent_keepalive;
  if (!peer.preshared_key_file.empty())
    out << YAML::Key << "preshared_key_file" << YAML::Value << YAML::DoubleQuoted
        << peer.preshared_key_file;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

StoreSnapshot snapshot_of(const Store& store, const std::vector<Peer>& peers) {
  StoreSnapshot snap;
  snap.entries.reserve(peers.size());
  for (const Peer& p : peers)
    snap.entries.push_back(StoreEntry{store_key(store, p), store_value(p)});
  std::sort(snap.entries.begin(), snap.entries.end(),
            [](const StoreEntry& a, const StoreEntry& b) { return a.key < b.key; });
  return snap;
}

std::string store_entry_origin(const std::string& key) {
  return "etcd:" + key;
}

namespace detail {

void load_store_peers(const Store& store, const StoreSnapshot& snapshot,
                      std::vector<ConfigError>& errors, std::vector<PeerDraft>& peers,
                      PeersDirLoad& io) {
  for (const StoreEntry& e : snapshot.entries) {
    const Doc doc(store_entry_origin(e.key), errors);
    if (e.key.compare(0, store.prefix.size(), store.prefix) != 0) continue;  // not ours
    const std::string name = e.key.substr(store.prefix.size());
    const TextDigest digest = digest_text(e.value);
    if (io.reuse != nullptr) {
      // The same value gives the same peer; only its key file may have changed.
      const auto it = io.reuse->find(e.key);
      if (it != io.reuse->end() && it->second.first == digest) {
        const Peer& before = *it->second.second;
        if (before.preshared_key_file.empty() ||
            key_file_unchanged(before.preshared_key_file, KeyKind::preshared_key,
                               before.preshared_key)) {
          peers.push_back(reused_draft(before, ""));
          io.files.emplace_back(e.key, digest);
          ++io.reused;
          continue;
        }
      }
    }
    ++io.parsed;
    try {
      const auto root = parse_document(doc, e.value);
      if (!root) continue;
      if (root->IsNull() || !root->IsDefined()) {
        doc.error(Location{doc.file(), 0, 0}, "",
                  "the value is empty; expected a mapping with the peer's keys (public_key, "
                  "allowed_ips, ...)");
        continue;
      }
      // A store peer has no directory to resolve a relative path against.
      bool relative = false;
      if (root->IsMap()) {
        for (const auto& kv : *root) {
          const YAML::Node& v = kv.second;
          if (kv.first.IsScalar() && kv.first.Scalar() == "preshared_key_file" && v.IsScalar() &&
              !std::filesystem::path(v.Scalar()).is_absolute()) {
            doc.error(v, "preshared_key_file",
                      "'" + v.Scalar() +
                          "' is a relative path; a peer in the store names its key file by "
                          "absolute path (on every hub)");
            relative = true;
          }
        }
      }
      if (relative) continue;
      if (auto draft = parse_peer(doc, *root, "", name)) {
        peers.push_back(std::move(*draft));
        io.files.emplace_back(e.key, digest);
      }
    } catch (const std::exception& ex) {
      doc.error(Location{doc.file(), 0, 0}, "", std::string("internal error: ") + ex.what());
    }
  }
}

}  // namespace detail

}  // namespace wghub::config
