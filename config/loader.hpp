// Loading a wghub YAML config into an immutable DesiredState. The schema is
// documented in docs/config.md; examples/wghub.yaml is a full example.
//
// Loading never throws for anything a user can get wrong: every problem found
// (all of them, not just the first) comes back as a ConfigError, and the state
// is only produced when there are none.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/error.hpp"
#include "config/model.hpp"
#include "config/store_peers.hpp"

namespace wghub::config {

struct LoadResult {
  std::shared_ptr<const DesiredState> state;  // null unless ok()
  std::vector<ConfigError> errors;
  // YAML documents parsed (the main file, peers_dir files) and peers taken
  // unparsed from the previous load's state (config/sources.hpp).
  std::size_t files_parsed = 0;
  std::size_t peers_reused = 0;

  bool ok() const { return state != nullptr && errors.empty(); }
  // Every error's to_string(), one per line (for logs and the CLI).
  std::string error_text() const;
};

// Loads the file at path. Relative paths inside it (key files, peers_dir)
// resolve against the file's directory.
//
// `previous`: the state running from an earlier load of the same path (a
// reload). The parts of the config whose text did not change since that
// load are taken from it instead of parsed (config/sources.hpp); the result,
// and every error message, is the same as without it.
//
// `store`: when the file has a `store:` section, the peers are this
// snapshot's (store_peers.hpp) instead of the file's `peers` and
// `peers_dir`; the settings are still the file's. Null: the file's peers.
LoadResult load_config_file(const std::string& path, const DesiredState* previous = nullptr,
                            const StoreSnapshot* store = nullptr);

// Loads YAML text as if it were the file virtual_path: messages name
// virtual_path and relative paths resolve against its directory.
LoadResult load_config_string(std::string_view yaml, const std::string& virtual_path);

}  // namespace wghub::config
