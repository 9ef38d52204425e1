// `wghub store push|diff -c CONFIG`: puts the peers of a config file into
// its store (etcd), or shows how the store differs from them (docs/ha.md).
// Exit status: 0 ok (diff: no difference), 1 diff found a difference, or a
// push/read failed or the file has errors, 2 usage error.
#pragma once

#include <string>

namespace wghub::ctl {

// `store push` for another command (wghub site on a config with a store):
// false with `error` when nothing was written.
bool push_to_store(const std::string& config_path, std::string& summary, std::string& error);

// argv[0] is "store".
int run_store(int argc, char** argv);

}  // namespace wghub::ctl
