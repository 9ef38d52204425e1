// What a reload changes: the difference between the running desired state
// and a newly loaded one, over every field of DesiredState. Peers are matched
// by public key; each added, removed or changed peer is listed once (a
// changed one with the names of its fields that differ), so applying the
// diff touches exactly those peers. Every other field is a setting the hub
// applies only at start; each one that differs is named ("ports.wan.gateway",
// "dataplane.burst_size", ...) so the operator learns what needs a restart.
//
// Secrets compare by content (constant time), not by the file they came
// from: pointing private_key_file at a copy of the same key changes nothing.
// `sites` is not compared: the running hub does not use it (only `wghub
// site` reads it), so a change to it neither takes a restart nor touches a peer.
// Where a peer is defined (Peer::origin) is not compared either: moving a
// peer within the file, or between peers_dir files, does not touch it.
//
// Pure function of two immutable states: the hub runs it off the control
// thread (control/reload.hpp). O(peers + prefixes) with the states' peer
// index (DesiredState::index_peers).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model.hpp"

namespace wghub::config {

struct PeerChange {
  std::uint32_t index = 0;          // into the new state's peers
  std::vector<std::string> fields;  // "name", "preshared_key", "allowed_ips", "endpoint",
                                    // "persistent_keepalive"
};

struct StateDiff {
  // Settings that differ and take a restart, by field path, in file order.
  std::vector<std::string> restart_needed;
  std::vector<std::uint32_t> removed;  // into the old state's peers
  std::vector<std::uint32_t> added;    // into the new state's peers
  std::vector<PeerChange> changed;

  std::size_t peer_changes() const { return removed.size() + added.size() + changed.size(); }
  bool empty() const { return restart_needed.empty() && peer_changes() == 0; }
};

StateDiff diff(const DesiredState& running, const DesiredState& next);

// The state a reload leaves running: `next`'s peers with `running`'s values
// for every setting that takes a restart (they keep running until then).
DesiredState merge_restart_settings(const DesiredState& running, DesiredState next);

}  // namespace wghub::config
