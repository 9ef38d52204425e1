// The last good store state on disk (docs/ha.md, "etcd unreachable at
// start"): after every store snapshot that loaded without errors the hub
// writes it here, and a hub that cannot reach etcd at start runs from it.
//
// One JSON document: {"format": 1, "prefix": ..., "revision": N,
// "written": UNIX-SECONDS, "entries": [{"key": ..., "value": ...}, ...]}.
// It holds what the store holds: public keys, allowed IPs, endpoints and key
// file paths, never a key. It decides who may connect, so it is written
// 0600 (write to a temporary file, fsync, rename: a crash leaves the old
// cache or the new one) and read only when it passes the config file's
// ownership check (file_trust.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "config/store_peers.hpp"

namespace wghub::config {

struct StoreCache {
  std::string prefix;
  std::int64_t written = 0;  // unix seconds
  StoreSnapshot snapshot;
};

// Creates the file's directory (0700) when missing. False with a message on failure.
bool write_store_cache(const std::string& path, const std::string& prefix,
                       const StoreSnapshot& snapshot, std::string& error);

// nullopt with a message naming the file when it is missing, untrusted,
// malformed, or for another prefix than `prefix`.
std::optional<StoreCache> read_store_cache(const std::string& path, const std::string& prefix,
                                           std::string& error);

}  // namespace wghub::config
