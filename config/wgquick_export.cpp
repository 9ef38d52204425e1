// The wg-quick writer (see wgquick.hpp): write_wgquick turns a WgQuickOut into
// wg-quick text; `wghub export` (to_wgquick, a hub's config) and `wghub site`
// (a site's file, config/site_plan.hpp) both fill one.
#include <sstream>

#include "config/wgquick.hpp"
#include "config/wgquick_text.hpp"
#include "crypto/base64.hpp"

namespace wghub::config {

using detail::encode_secret;
using detail::one_line;
using detail::wipe_string;

std::string write_wgquick(const WgQuickOut& out, const ExportOptions& options) {
  std::ostringstream w;
  for (const auto& line : out.header) w << "# " << one_line(line) << "\n";
  w << "[Interface]\n";
  if (out.private_key == nullptr) {
    w << "# PrivateKey " << one_line(out.private_key_note) << "\n";
  } else if (options.include_secrets) {
    std::string k = encode_secret(*out.private_key);
    w << "PrivateKey = " << k << "\n";
    wipe_string(k);
  } else {
    w << "# PrivateKey" << one_line(options.omitted_note) << "\n";
  }
  if (out.listen_port) w << "ListenPort = " << *out.listen_port << "\n";
  for (const auto& a : out.addresses) w << "Address = " << a.to_string() << "\n";
  if (out.mtu) w << "MTU = " << *out.mtu << "\n";

  for (const auto& p : out.peers) {
    w << "\n[Peer]\n";
    if (!p.name.empty()) w << "# friendly_name = " << one_line(p.name) << "\n";
    w << "PublicKey = " << crypto::key_to_base64(p.public_key.data()) << "\n";
    if (p.preshared_key != nullptr) {
      if (options.include_secrets) {
        std::string k = encode_secret(*p.preshared_key);
        w << "PresharedKey = " << k << "\n";
        wipe_string(k);
      } else {
        w << "# PresharedKey" << one_line(options.omitted_note) << "\n";
      }
    }
    if (!p.allowed_ips.empty()) {
      w << "AllowedIPs = ";
      for (std::size_t i = 0; i < p.allowed_ips.size(); ++i) {
        w << (i ? ", " : "") << p.allowed_ips[i].to_string();
      }
      w << "\n";
    }
    if (!p.endpoint.empty()) w << "Endpoint = " << one_line(p.endpoint) << "\n";
    if (p.persistent_keepalive != 0) {
      w << "PersistentKeepalive = " << p.persistent_keepalive << "\n";
    }
  }
  return w.str();
}

std::string to_wgquick(const DesiredState& state, const ExportOptions& options) {
  WgQuickOut out;
  out.header = {"wg-quick configuration exported by `wghub export` from " +
                    (state.source_file.empty() ? std::string("a wghub config") : state.source_file),
                "(interface " + state.interface.name +
                    "). Ports, data plane and metrics settings have no wg-quick",
                "equivalent and are not included."};
  out.private_key = state.interface.private_key.get();
  out.private_key_note = "unavailable";
  out.listen_port = state.interface.listen_port;
  if (state.interface.address) out.addresses.push_back(*state.interface.address);
  for (const auto& p : state.peers) {
    WgQuickOut::PeerOut po;
    po.name = p.name;
    po.public_key = p.public_key;
    po.preshared_key = p.preshared_key.get();
    po.allowed_ips = p.allowed_ips;
    if (p.endpoint) po.endpoint = p.endpoint->to_string();
    po.persistent_keepalive = p.persistent_keepalive;
    out.peers.push_back(std::move(po));
  }
  return write_wgquick(out, options);
}

}  // namespace wghub::config
