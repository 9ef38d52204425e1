// What a load read, kept with the state it produced, so that the next load
// of the same file (a reload) can recognise the files whose content did not
// change and take their peers from that state instead of parsing them again.
// With 10^5 peers yaml-cpp's parse is most of a reload (docs/perf.md,
// "Scale"); an unchanged file now costs a read and a hash, and a reload
// that changes one peers_dir file parses that one file.
//
// What is reused and when (config/loader.cpp):
//   - the main file, when its text hashes the same: its settings as it gave
//     them (the running state keeps the old ones where a restart is needed,
//     so they are kept here) and its inline peers;
//   - a peers_dir file, when its path and the hash of its text are the same:
//     its peer.
// Key files are not covered by the hashes: every one a reused part names
// (private_key_file, preshared_key_file) is read again, and a reused part
// whose key file fails to read or differs is parsed instead. A load that
// reused anything and then found an error is thrown away and done again
// without reuse, so every message is that of a full load (file:line:column
// of both places of a collision).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/model.hpp"

namespace wghub::config {

// BLAKE2s-256 of a file's text.
using TextDigest = std::array<std::uint8_t, 32>;
TextDigest digest_text(std::string_view text);

struct LoadedSources {
  std::string file;  // the main file, as the loader was given it
  TextDigest file_digest{};
  // The main file's settings as it gave them.
  Interface interface;
  Ports ports;
  Dataplane dataplane;
  Metrics metrics;
  std::optional<Sites> sites;
  Store store;
  std::size_t inline_peers = 0;  // the state's first peers
  std::string peers_dir;         // resolved; empty when the file names none
  // The peers came from a store snapshot (store_peers.hpp): peer_files are
  // then its keys and the hashes of their values, and only a load with a
  // snapshot reuses them (a value that did not change gives its peer
  // unparsed, as a peers_dir file does).
  bool from_store = false;
  // One per peers_dir file, in load order: the file of state.peers[inline_peers + i].
  std::vector<std::pair<std::string, TextDigest>> peer_files;
};

}  // namespace wghub::config
