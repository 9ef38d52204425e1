// See file_trust.hpp.
#include "config/file_trust.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>

namespace wghub::config {

namespace {

std::string owner_name(uid_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  std::array<char, 1024> buf{};
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr)
    return std::string(" (") + found->pw_name + ")";
  return {};
}

std::string octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

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
    std::string m = what + " is owned by uid " + std::to_string(st.st_uid) + owner_name(st.st_uid) +
                    ", not root; its owner could add peers. Refusing to use it. Fix it with: "
                    "chown root:root " +
                    path;
    if (euid != 0) m += " (or chown to the user wghub runs as)";
    return m;
  }
  if ((st.st_mode & 022) != 0)
    return what + " is writable by group or others (mode " + octal(st.st_mode) +
           "); anyone who can write it could add peers. Refusing to use it. Fix it with: chmod "
           "go-w " +
           path;
  return {};
}

}  // namespace wghub::config
