// Lookups on the desired state (see model.hpp).
#include "config/model.hpp"

namespace wghub::config {

const Peer* DesiredState::find_peer(const PublicKey& key) const {
  for (const auto& p : peers)
    if (p.public_key == key) return &p;
  return nullptr;
}

const Peer* DesiredState::find_peer(const std::string& name) const {
  for (const auto& p : peers)
    if (p.name == name) return &p;
  return nullptr;
}

}  // namespace wghub::config
