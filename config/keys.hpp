// WireGuard keys in the config: public keys written inline as base64, and
// private/preshared keys read from files in the format `wg genkey` and
// `wg genpsk` write. Error messages explain what is wrong without ever
// quoting the content of a key file.
#pragma once

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
// newline as `wg genkey > file` leaves it). Like wg-quick, but strict: a file
// that group or others may access is refused, with the chmod that fixes it.
KeyFileResult read_key_file(const std::string& path, KeyKind kind);

}  // namespace wghub::config
