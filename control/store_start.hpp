// The state a hub with a `store:` section starts with (docs/ha.md): the
// file's settings and the store's peers, read from etcd, or, when etcd does
// not answer, from the cached last good store state; with neither, the hub
// refuses to start and says why. Runs before the hub exists (main.cpp) and
// from `wghub store diff`.
#pragma once

#include <memory>
#include <string>

#include "config/loader.hpp"
#include "config/store_peers.hpp"

namespace wghub::ctl {

struct StoreStart {
  std::shared_ptr<const config::DesiredState> state;      // file settings + store peers
  std::shared_ptr<const config::StoreSnapshot> snapshot;  // the peers' source
  bool from_cache = false;
};

// `file_state`: the config loaded without a store snapshot (its
// store.enabled()). False with every message already logged.
bool start_from_store(const std::string& path, const config::DesiredState& file_state,
                      StoreStart& out);

}  // namespace wghub::ctl
