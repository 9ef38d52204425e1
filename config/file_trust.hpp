// The config file, peers_dir and the peer files in it are checked the way key
// files are (keys.hpp), for writing rather than reading (issue 13 item 8):
// they hold no secret, but whoever can change them decides which keys may
// connect and which networks they may claim. So each must be owned by root
// (or by the effective user when wghub runs unprivileged) and writable by its
// owner only: a group- or world-writable file or directory, or one owned by
// another user, is refused with a message that names it and says how to fix
// it (chown, chmod). The check follows symbolic links (the file that is read
// is the one checked; a link is the administrator's own choice here).
#pragma once

#include <string>

namespace wghub::config {

enum class TrustedKind { config_file, peers_dir, peer_file };

// Why `path` may not be trusted; empty when it may (or when it cannot be
// stat'ed: the reader then reports what is wrong with it).
std::string untrusted_because(const std::string& path, TrustedKind kind);

}  // namespace wghub::config
