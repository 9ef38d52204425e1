// The hub's side of the wg(8) userspace API: answers `get` from the device's
// peers and the data plane's counters, and applies `set` (wg set, syncconf,
// setconf) through the same Device calls as start-up and reload. Settings a
// running data plane cannot change (private key, listen port) are accepted
// only when unchanged, so `wg syncconf` of the running config works; a
// different value is refused with an errno and a log line. Control thread
// only (the UAPI server is polled there).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "config/model.hpp"
#include "control/device.hpp"
#include "control/uapi.hpp"

namespace wghub::ctl {

class DeviceUapiBackend : public uapi::Backend {
 public:
  // `config_name` gives the YAML name of a key (empty if none), so a peer
  // that wg(8) adds back keeps its name in logs and metrics.
  using NameLookup = std::function<std::string(const PublicKey&)>;
  DeviceUapiBackend(Device& device, std::shared_ptr<const crypto::Key> private_key,
                    std::uint16_t listen_port, PublicKey own_public_key, NameLookup config_name);

  uapi::DeviceStatus get() override;
  bool get_slice(uapi::GetCursor& cursor, std::size_t max_peers, uapi::DeviceStatus& out) override;
  int set(const uapi::SetRequest& request) override;
  // Why a set is refused now (empty: it is not): a standby hub reads but
  // does not change (docs/ha.md).
  void set_refusal(std::function<std::string()> why) { refusal_ = std::move(why); }

 private:
  int apply(const uapi::PeerChange& change);
  uapi::PeerStatus status_of(const Device::Peer& p) const;

  Device& device_;
  std::shared_ptr<const crypto::Key> private_key_;
  std::uint16_t listen_port_;
  PublicKey own_public_key_;
  NameLookup config_name_;
  std::function<std::string()> refusal_;
  std::uint32_t fwmark_ = 0;  // remembered for wg(8); DPDK ports have no fwmark
};

}  // namespace wghub::ctl
