// Public key parsing and key file reading (see keys.hpp).
#include "config/keys.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "crypto/base64.hpp"

namespace wghub::config {

namespace {

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Explains why `text` is not a 32-byte key in standard base64. Empty when it
// is one. Only lengths and positions are reported, never characters, so the
// same function serves secret key files.
std::string describe_key_text(std::string_view text) {
  if (text.empty()) return "the key is empty";
  std::size_t pad = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      ++pad;
    } else if (!is_base64_char(c) || pad > 0) {
      return "not valid base64 (unexpected character at position " + std::to_string(i + 1) + ")";
    }
  }
  if (text.size() % 4 != 0 || pad > 2) {
    return "not valid base64 (" + std::to_string(text.size()) +
           " characters; a key is 44 characters ending in '=')";
  }
  const std::size_t decoded = text.size() / 4 * 3 - pad;
  if (decoded != 32) {
    return "decodes to " + std::to_string(decoded) + " bytes, but a WireGuard key is 32 bytes";
  }
  // Right length and alphabet, but the bits after the last full byte are not zero.
  if (!crypto::key_from_base64(text))
    return "not canonical base64 (the character before '=' is off)";
  return {};
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Wipes a stack buffer on every way out of read_key_file.
template <std::size_t N>
struct WipedBuffer {
  std::array<char, N> bytes{};
  ~WipedBuffer() { crypto::wipe(bytes.data(), bytes.size()); }
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Parsed<PublicKey> parse_public_key(std::string_view text) {
  if (auto key = crypto::key_from_base64(text)) return Parsed<PublicKey>::ok(*key);
  return Parsed<PublicKey>::fail(describe_key_text(text) +
                                 "; expected the 44-character base64 key printed by 'wg pubkey'");
}

namespace {

struct KeyFileNames {
  std::string what;       // "private key file '/etc/wghub/hub.key'"
  std::string field;      // "private_key_file"
  const char* generator;  // "wg genkey"

  // "...; point private_key_file at the file 'wg genkey' wrote"
  std::string point_at_key_file() const {
    return "; point " + field + " at the file '" + generator + "' wrote";
  }
};

const char* file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// Why the opened file may not hold a key: type, owner, mode. Empty when fine.
std::string check_key_file_stat(const struct stat& st, const std::string& path,
                                const KeyFileNames& n) {
  if (!S_ISREG(st.st_mode))
    return n.what + " is " + file_type_name(st.st_mode) + ", not a key file" +
           n.point_at_key_file();
  // Root's file, or (wghub running unprivileged) the file of the user it
  // runs as: nobody else may have planted or be able to swap the key.
  const uid_t euid = ::geteuid();
  if (st.st_uid != 0 && st.st_uid != euid) {
    std::string m = n.what + " is owned by uid " + std::to_string(st.st_uid) +
                    user_name_suffix(st.st_uid) + ", not root";
    if (euid != 0)
      m += " or uid " + std::to_string(euid) + user_name_suffix(euid) + " (wghub's user)";
    m += "; refusing to use it. Fix it with: chown " +
         (euid == 0 ? std::string("root:root") : std::to_string(euid)) + " " + path;
    return m;
  }
  if ((st.st_mode & 077) != 0)
    return n.what + " is accessible by group or others (mode " + octal_mode(st.st_mode) +
           "); refusing to use it. Fix it with: chmod 600 " + path;
  return {};
}

}  // namespace

std::string user_name_suffix(uid_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  std::array<char, 1024> buf{};
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr)
    return std::string(" (") + found->pw_name + ")";
  return {};
}

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

KeyFileResult read_key_file(const std::string& path, KeyKind kind) {
  const bool is_private = kind == KeyKind::private_key;
  const KeyFileNames names{
      std::string(is_private ? "private" : "preshared") + " key file '" + path + "'",
      is_private ? "private_key_file" : "preshared_key_file",
      is_private ? "wg genkey" : "wg genpsk"};
  const std::string& what = names.what;

  // O_NOFOLLOW: a link could be re-pointed after the check; O_NONBLOCK: a
  // FIFO must not hang the loader (it is refused below; reads of a regular
  // file ignore the flag).
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    const int err = errno;
    struct stat lst {};
    if (err == ELOOP && ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode))
      return {nullptr, what + " is a symbolic link; point " + names.field + " at the file itself"};
    return {nullptr, "cannot read " + what + ": " + std::strerror(err) + names.point_at_key_file()};
  }
  // fstat on the open descriptor: the file checked is the file read.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return {nullptr, "cannot read " + what + ": " + std::strerror(errno)};
  }
  if (std::string why = check_key_file_stat(st, path, names); !why.empty()) return {nullptr, why};

  // A key is 44 characters; allow generous whitespace but not arbitrary
  // files. The buffer is wiped on every way out.
  WipedBuffer<256> buf;
  std::size_t len = 0;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.bytes.data() + len, buf.bytes.size() - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return {nullptr, "cannot read " + what + ": " + std::strerror(errno)};
    }
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
    if (len == buf.bytes.size()) {
      return {nullptr,
              what + " is too large to be a key; expected the output of '" + names.generator + "'"};
    }
  }
  const std::string_view text = trim(std::string_view(buf.bytes.data(), len));
  auto decoded = crypto::key_from_base64(text);
  if (!decoded) {
    return {nullptr, what + " does not hold a valid key: " + describe_key_text(text) +
                         "; expected the output of '" + names.generator + "'"};
  }
  auto key = std::make_shared<crypto::Key>(std::span<const std::uint8_t, 32>(*decoded));
  crypto::wipe(decoded->data(), decoded->size());
  return {std::move(key), {}};
}

}  // namespace wghub::config
