// Lookups on the desired state (see model.hpp).
#include "config/model.hpp"

namespace wghub::config {

void DesiredState::index_peers() {
  peer_index.by_key.clear();
  peer_index.by_name.clear();
  peer_index.by_key.reserve(peers.size());
  peer_index.by_name.reserve(peers.size());
  for (std::uint32_t i = 0; i < peers.size(); ++i) {
    peer_index.by_key.try_emplace(peers[i].public_key, i);
    peer_index.by_name.try_emplace(peers[i].name, i);
  }
}

const Peer* DesiredState::find_peer(const PublicKey& key) const {
  if (peer_index.by_key.size() == peers.size() && !peers.empty()) {
    auto it = peer_index.by_key.find(key);
    return it == peer_index.by_key.end() ? nullptr : &peers[it->second];
  }
  for (const auto& p : peers)
    if (p.public_key == key) return &p;
  return nullptr;
}

const Peer* DesiredState::find_peer(const std::string& name) const {
  if (peer_index.by_name.size() == peers.size() && !peers.empty()) {
    auto it = peer_index.by_name.find(name);
    return it == peer_index.by_name.end() ? nullptr : &peers[it->second];
  }
  for (const auto& p : peers)
    if (p.name == name) return &p;
  return nullptr;
}

}  // namespace wghub::config
