// `wghub store push|diff -c CONFIG`: puts the peers of a config file into
// its store (etcd), or shows how the store differs from them (docs/ha.md).
// Exit status: 0 ok (diff: no difference), 1 diff found a difference, or a
// push/read failed or the file has errors, 2 usage error.
#pragma once

namespace wghub::ctl {

// argv[0] is "store".
int run_store(int argc, char** argv);

}  // namespace wghub::ctl
