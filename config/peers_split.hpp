// Internal to config/: a main file's inline `peers:` parsed on every core.
// yaml-cpp is most of a load at scale (docs/perf.md, "Scale": at 10^5
// inline peers YAML::Load is ~60 % of --check-config) and parses one
// document on one thread. A peers list in block style is a run of items
// that YAML reads independently, so the text is cut at item boundaries
// into chunks of a few hundred items, each parsed as a document of its own
// (parse_peer included) by whichever thread takes it next, and the rest of
// the file is parsed with the items' lines blanked. Line and column numbers
// are those of the file (a chunk's Doc knows its first line), so every
// message names the same file:line:column and field as a sequential load,
// in the same order.
//
// The cut is made only where it cannot change the meaning: one `peers:`
// key at column 0 with its items in block style, every line of the block
// either an item at one indentation, deeper, blank or a comment; no
// anchors or aliases, tabs in indentation, directives or document markers
// anywhere in the file. Otherwise, or when any part has a YAML syntax
// error (whose message is then that of the whole file), the whole file is
// parsed as one document.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "config/error.hpp"
#include "config/parse.hpp"
#include "config/yaml_reader.hpp"

namespace wghub::config::detail {

// Below this many inline peers one thread is as quick.
inline constexpr std::size_t kSplitPeersFrom = 4096;

struct SplitPeers {
  std::vector<PeerDraft> peers;     // parse_peer's drafts, in file order
  std::vector<ConfigError> errors;  // their messages, in file order
};

struct SplitDocument {
  YAML::Node root;  // the file; with `peers` split, its items' lines are blank
  std::optional<SplitPeers> peers;
};

// As parse_document (nullopt after reporting a syntax error), with the
// inline peers parsed apart when the file allows it and has at least
// `split_from` of them.
std::optional<SplitDocument> parse_document_split(const Doc& doc, const std::string& text,
                                                  std::size_t split_from = kSplitPeersFrom);

}  // namespace wghub::config::detail
