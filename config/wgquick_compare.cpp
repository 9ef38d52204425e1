// The difference in meaning between two parsed wg-quick configs
// (compare_wgquick, see wgquick.hpp); secrets are compared, never printed.
#include "config/wgquick.hpp"

#include <algorithm>

#include "crypto/base64.hpp"

namespace wghub::config {

std::vector<std::string> compare_wgquick(const WgQuickConfig& a, const WgQuickConfig& b) {
  std::vector<std::string> diffs;
  auto same_secret = [](const std::shared_ptr<const crypto::Key>& x,
                        const std::shared_ptr<const crypto::Key>& y) {
    if (!x || !y) return !x && !y;
    return crypto::equal_ct(x->data(), y->data(), crypto::kKeyLen);
  };
  if (!same_secret(a.private_key, b.private_key)) diffs.push_back("PrivateKey differs");
  if (a.listen_port.value_or(kDefaultListenPort) != b.listen_port.value_or(kDefaultListenPort)) {
    diffs.push_back("ListenPort differs");
  }
  if (a.address != b.address) {
    auto s = [](const auto& x) { return x ? x->to_string() : std::string("(none)"); };
    diffs.push_back("Address " + s(a.address) + " != " + s(b.address));
  }
  if (a.peers.size() != b.peers.size()) {
    diffs.push_back(std::to_string(a.peers.size()) + " peers != " + std::to_string(b.peers.size()) +
                    " peers");
  }
  for (const auto& pa : a.peers) {
    const std::string who = "peer " + crypto::key_to_base64(pa.public_key.data());
    auto it = std::find_if(b.peers.begin(), b.peers.end(),
                           [&](const WgQuickPeer& pb) { return pb.public_key == pa.public_key; });
    if (it == b.peers.end()) {
      diffs.push_back(who + " is missing from the second config");
      continue;
    }
    const auto& pb = *it;
    if (pa.name != pb.name) diffs.push_back(who + ": name " + pa.name + " != " + pb.name);
    if (!same_secret(pa.preshared_key, pb.preshared_key)) {
      diffs.push_back(who + ": PresharedKey differs");
    }
    if (pa.allowed_ips != pb.allowed_ips) diffs.push_back(who + ": AllowedIPs differ");
    if (pa.endpoint != pb.endpoint) diffs.push_back(who + ": Endpoint differs");
    if (pa.persistent_keepalive != pb.persistent_keepalive) {
      diffs.push_back(who + ": PersistentKeepalive differs");
    }
  }
  return diffs;
}

}  // namespace wghub::config
