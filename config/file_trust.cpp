// See file_trust.hpp.
#include "config/file_trust.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "config/keys.hpp"

namespace wghub::config {

namespace {

const char* describe(TrustedKind kind) {
  switch (kind) {
    case TrustedKind::config_file:
      return "config file";
    case TrustedKind::peers_dir:
      return "peers directory";
    case TrustedKind::peer_file:
      return "peer file";
  }
  return "file";
}

}  // namespace

std::string untrusted_because(const std::string& path, TrustedKind kind) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  const std::string what = std::string(describe(kind)) + " '" + path + "'";
  const uid_t euid = ::geteuid();
  if (st.st_uid != 0 && st.st_uid != euid) {
    std::string m = what + " is owned by uid " + std::to_string(st.st_uid) +
                    user_name_suffix(st.st_uid) +
                    ", not root; its owner could add peers. Refusing to use it. Fix it with: "
                    "chown root:root " +
                    path;
    if (euid != 0) m += " (or chown to the user wghub runs as)";
    return m;
  }
  if ((st.st_mode & 022) != 0)
    return what + " is writable by group or others (mode " + octal_mode(st.st_mode) +
           "); anyone who can write it could add peers. Refusing to use it. Fix it with: chmod "
           "go-w " +
           path;
  return {};
}

}  // namespace wghub::config
