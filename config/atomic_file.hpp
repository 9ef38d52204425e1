// Files the hub's tools write whole: peer files, the store cache, wg-quick
// files with keys. Readers (a reload, a hub starting from the cache) see the
// old file or the new one, never a part.
#pragma once

#include <sys/types.h>

#include <string>

namespace wghub::config {

// Writes `text` to `path` through a temporary dot file in the same directory
// (the peers_dir loader skips dot files), fsync(2) and rename(2). `mode` is
// set before any byte is written; `replace` false refuses an existing file.
// False with `error` (naming the path) on failure; the temporary is removed.
bool write_file_atomically(const std::string& path, const std::string& text, mode_t mode,
                           bool replace, std::string& error);

}  // namespace wghub::config
