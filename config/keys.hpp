// WireGuard keys in the config: public keys written inline as base64, and
// private/preshared keys read from files in the format `wg genkey` and
// `wg genpsk` write. Error messages explain what is wrong without ever
// quoting the content of a key file.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "config/address.hpp"
#include "config/model.hpp"
#include "crypto/secret.hpp"

namespace wghub::config {

// "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=" -> 32 bytes, or a message
// saying whether the text is not base64 at all or decodes to the wrong length.
Parsed<PublicKey> parse_public_key(std::string_view text);

struct KeyFileResult {
  std::shared_ptr<const crypto::Key> key;  // set on success
  std::string error;                       // set on failure; never contains key bytes
};

enum class KeyKind { private_key, preshared_key };

// Reads a key file: base64 with optional surrounding whitespace (a trailing
// newline as `wg genkey > file` leaves it). Stricter than wg-quick, which only
// warns: the file must be a regular file (not a symbolic link: it is opened
// with O_NOFOLLOW, and checked with fstat on the opened descriptor, so the
// file checked is the file read), owned by root (or by the effective user
// when wghub runs unprivileged), and accessible by its owner only (0600 or
// 0400). Each refusal names the file and the config field and says how to
// fix it (chown, chmod, or where to point the field). The read buffer is
// wiped on every way out.
KeyFileResult read_key_file(const std::string& path, KeyKind kind);

// The wording of those refusals, shared with the config files' check
// (file_trust.hpp): " (alice)" for a uid with a name (else empty), and a mode
// as "0664".
std::string user_name_suffix(uid_t uid);
std::string octal_mode(mode_t mode);

}  // namespace wghub::config
