// Peers held in a key-value store (etcd, docs/ha.md): one key per peer,
// prefix + name, whose value is the peer's mapping as it would be written in
// the YAML file (name, public_key, allowed_ips, endpoint,
// persistent_keepalive, preshared_key_file), so the same parser reads both
// and an error names the key, the line and column in the value, and the
// field: "etcd:/wghub/peers/site-a:3:15: allowed_ips[0]: ...".
//
// A StoreSnapshot is the whole prefix at one revision; the loader builds a
// desired state from the file's settings and a snapshot's peers
// (loader.hpp), which the hub diffs and applies like a reload.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model.hpp"

namespace wghub::config {

struct StoreEntry {
  std::string key;    // the full key, prefix included
  std::string value;  // the peer's YAML (or JSON) mapping
  friend bool operator==(const StoreEntry&, const StoreEntry&) = default;
};

struct StoreSnapshot {
  std::int64_t revision = 0;        // etcd's revision the entries were read at
  std::vector<StoreEntry> entries;  // sorted by key, keys unique
  friend bool operator==(const StoreSnapshot&, const StoreSnapshot&) = default;
};

// The key a peer is stored under: prefix + name.
std::string store_key(const Store& store, const Peer& peer);

// The value `wghub store push` writes for a peer: a YAML mapping that
// parse_peer reads back to the same peer (the preshared key stays in its
// file; the value names the file, never the key).
std::string store_value(const Peer& peer);

// The snapshot a file's peers give, as `wghub store push` would leave the
// store: one entry per peer, sorted by key.
StoreSnapshot snapshot_of(const Store& store, const std::vector<Peer>& peers);

// Where an entry is reported: "etcd:" + key.
std::string store_entry_origin(const std::string& key);

}  // namespace wghub::config
