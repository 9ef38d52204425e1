// `wghub export`'s writer (see wgquick.hpp): a wg-quick file from a loaded
// DesiredState (to_wgquick).
#include "config/wgquick.hpp"

#include <sstream>

#include "config/wgquick_text.hpp"
#include "crypto/base64.hpp"

namespace wghub::config {

using detail::encode_secret;
using detail::one_line;
using detail::wipe_string;

std::string to_wgquick(const DesiredState& state, const ExportOptions& options) {
  std::ostringstream w;
  const char* omitted =
      " omitted: `wghub export` writes keys only to a file (--output FILE) or with "
      "--include-private-key";
  w << "# wg-quick configuration exported by `wghub export` from "
    << one_line(state.source_file.empty() ? "a wghub config" : state.source_file) << "\n"
    << "# (interface " << one_line(state.interface.name)
    << "). Ports, data plane and metrics settings have no wg-quick\n"
    << "# equivalent and are not included.\n"
    << "[Interface]\n";
  if (!state.interface.private_key) {
    w << "# PrivateKey unavailable\n";
  } else if (options.include_secrets) {
    std::string k = encode_secret(*state.interface.private_key);
    w << "PrivateKey = " << k << "\n";
    wipe_string(k);
  } else {
    w << "# PrivateKey" << omitted << "\n";
  }
  w << "ListenPort = " << state.interface.listen_port << "\n";
  if (state.interface.address) w << "Address = " << state.interface.address->to_string() << "\n";

  for (const auto& p : state.peers) {
    w << "\n[Peer]\n"
      << "# friendly_name = " << p.name << "\n"
      << "PublicKey = " << crypto::key_to_base64(p.public_key.data()) << "\n";
    if (p.preshared_key) {
      if (options.include_secrets) {
        std::string k = encode_secret(*p.preshared_key);
        w << "PresharedKey = " << k << "\n";
        wipe_string(k);
      } else {
        w << "# PresharedKey" << omitted << "\n";
      }
    }
    if (!p.allowed_ips.empty()) {
      w << "AllowedIPs = ";
      for (std::size_t i = 0; i < p.allowed_ips.size(); ++i) {
        w << (i ? ", " : "") << p.allowed_ips[i].to_string();
      }
      w << "\n";
    }
    if (p.endpoint) w << "Endpoint = " << p.endpoint->to_string() << "\n";
    if (p.persistent_keepalive != 0) {
      w << "PersistentKeepalive = " << p.persistent_keepalive << "\n";
    }
  }
  return w.str();
}

}  // namespace wghub::config
