// Parsers for one peer mapping and for the peers_dir directory (one peer per file).
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "config/file_trust.hpp"
#include "config/keys.hpp"
#include "config/parse.hpp"
#include "crypto/secret.hpp"

namespace wghub::config::detail {

namespace {

bool valid_peer_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// YAML reads an unquoted [2001:db8::1]... as a list.
const char* kQuoteV6 = "; quote IPv6 endpoints: \"[2001:db8::1]:51820\"";

const char* kNameRule = "use 1 to 64 characters from A-Z a-z 0-9 _ . -";

}  // namespace

std::optional<PeerDraft> parse_peer(const Doc& doc, const YAML::Node& node, const std::string& path,
                                    const std::string& default_name) {
  MapReader map(doc, node, path,
                {"name", "public_key", "preshared_key_file", "allowed_ips", "endpoint",
                 "persistent_keepalive"});
  if (!map.ok()) return std::nullopt;
  PeerDraft draft;
  draft.path = path;
  draft.peer.origin = doc.at(node);
  bool have_name = false;
  bool have_key = false;

  if (!map.has("name") && !default_name.empty()) {
    // A peers_dir file may leave the name to its file name.
    draft.name_src = Source{doc.at(node), map.path("name")};
    if (valid_peer_name(default_name)) {
      draft.peer.name = default_name;
      have_name = true;
    } else {
      doc.error(node, map.path("name"),
                "the file name '" + default_name +
                    "' is not a valid peer name; add a 'name:' key or rename the file (" +
                    kNameRule + ")");
    }
  } else if (auto n = map.require("name"); n.IsDefined()) {
    draft.name_src = Source{doc.at(n), map.path("name")};
    if (auto name = read_string(doc, n, map.path("name"))) {
      if (valid_peer_name(*name)) {
        draft.peer.name = *name;
        have_name = true;
      } else {
        doc.error(n, map.path("name"), "'" + *name + "' is not a valid peer name; " + kNameRule);
      }
    }
  }

  if (auto n = map.require("public_key"); n.IsDefined()) {
    draft.key_src = Source{doc.at(n), map.path("public_key")};
    if (auto text = read_string(doc, n, map.path("public_key"))) {
      auto key = parse_public_key(*text);
      if (key) {
        draft.peer.public_key = *key.value;
        have_key = true;
      } else {
        doc.error(n, map.path("public_key"), key.error);
      }
    }
  }

  if (auto n = map.get("preshared_key_file"); n.IsDefined()) {
    const std::string field = map.path("preshared_key_file");
    if (auto file = read_string(doc, n, field)) {
      if (file->empty()) {
        doc.error(n, field, "empty path; name the file 'wg genpsk' wrote, or leave the key out");
      } else {
        draft.peer.preshared_key_file = doc.resolve(*file);
        auto key = read_key_file(draft.peer.preshared_key_file, KeyKind::preshared_key);
        if (key.key) {
          draft.peer.preshared_key = std::move(key.key);
        } else {
          doc.error(n, field, key.error);
        }
      }
    }
  }

  if (auto n = map.get("allowed_ips"); n.IsDefined()) {
    read_prefix_list(doc, n, map.path("allowed_ips"), "[10.1.0.0/24, \"fd00:1::/64\"]",
                     [&](const Prefix& prefix, const YAML::Node& at, const std::string& epath) {
                       draft.peer.allowed_ips.push_back(prefix);
                       draft.prefix_src.push_back(Source{doc.at(at), epath});
                     });
  }

  if (auto n = map.get("endpoint"); n.IsDefined()) {
    if (auto text = read_string(doc, n, map.path("endpoint"), kQuoteV6)) {
      auto ep = Endpoint::parse(*text);
      if (ep) {
        draft.peer.endpoint = *ep.value;
      } else {
        doc.error(n, map.path("endpoint"), ep.error);
      }
    }
  }

  if (auto n = map.get("persistent_keepalive"); n.IsDefined()) {
    if (auto secs =
            read_int(doc, n, map.path("persistent_keepalive"), "keepalive interval", 0, 65535)) {
      draft.peer.persistent_keepalive = static_cast<std::uint16_t>(*secs);
    }
  }

  if (!have_name || !have_key) return std::nullopt;
  return draft;
}

bool key_file_unchanged(const std::string& path, KeyKind kind,
                        const std::shared_ptr<const crypto::Key>& key) {
  const KeyFileResult now = read_key_file(path, kind);
  if (!now.key || !key) return false;
  return crypto::equal_ct(now.key->data(), key->data(), key->size());
}

PeerDraft reused_draft(const Peer& peer, std::string path) {
  PeerDraft draft;
  draft.peer = peer;
  draft.path = std::move(path);
  draft.prefix_src.resize(peer.allowed_ips.size());
  return draft;
}

void load_peers_dir(const Doc& doc, const Location& at, const std::string& field,
                    const std::string& dir, std::vector<ConfigError>& errors,
                    std::vector<PeerDraft>& peers, PeersDirLoad& io) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(dir, ec);
  if (!fs::exists(status)) {
    doc.error(at, field, "peers directory '" + dir + "' does not exist");
    return;
  }
  if (!fs::is_directory(status)) {
    doc.error(at, field, "'" + dir + "' is not a directory");
    return;
  }
  if (const std::string why = untrusted_because(dir, TrustedKind::peers_dir); !why.empty()) {
    doc.error(at, field, why);
    return;
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    const std::string ext = p.extension().string();
    // Editors and config managers leave dotfiles (".x.yaml.swp", ".#x.yaml") around.
    if (name.empty() || name.front() == '.' || (ext != ".yaml" && ext != ".yml")) continue;
    std::error_code type_ec;
    if (!fs::is_regular_file(p, type_ec)) continue;
    if (const std::string why = untrusted_because(p.string(), TrustedKind::peer_file);
        !why.empty()) {
      doc.error(Location{p.string(), 0, 0}, "", why);
      continue;
    }
    files.push_back(p);
  }
  if (ec) {
    doc.error(at, field, "cannot read peers directory '" + dir + "': " + ec.message());
    return;
  }
  std::sort(files.begin(), files.end());

  // yaml-cpp is most of a load (docs/perf.md, "Scale"), and the files are
  // independent documents: parse them on every core, each file's peer and
  // errors into its own slot, then merge in file-name order so the result
  // and the order of the messages are those of a sequential load.
  struct Parsed {
    std::optional<PeerDraft> peer;
    std::vector<ConfigError> errors;
    TextDigest digest{};
    bool reused = false;
  };
  std::vector<Parsed> parsed(files.size());
  auto parse_file = [&](std::size_t i) {
    const fs::path& file = files[i];
    const Doc peer_doc(file.string(), parsed[i].errors);
    const auto text = read_text_file(peer_doc, "peer file");
    if (!text) return;
    parsed[i].digest = digest_text(*text);
    if (io.reuse != nullptr) {
      // The same text gives the same peer; only its key file may have changed.
      const auto it = io.reuse->find(file.string());
      if (it != io.reuse->end() && it->second.first == parsed[i].digest) {
        const Peer& before = *it->second.second;
        if (before.preshared_key_file.empty() ||
            key_file_unchanged(before.preshared_key_file, KeyKind::preshared_key,
                               before.preshared_key)) {
          parsed[i].peer = reused_draft(before, "");
          parsed[i].reused = true;
          return;
        }
      }
    }
    try {
      const auto root = parse_document(peer_doc, *text);
      if (!root) return;
      if (root->IsNull() || !root->IsDefined()) {
        peer_doc.error(Location{file.string(), 0, 0}, "",
                       "the file is empty; expected a mapping with the peer's keys (public_key, "
                       "allowed_ips, ...)");
        return;
      }
      parsed[i].peer = parse_peer(peer_doc, *root, "", file.stem().string());
    } catch (const std::exception& e) {
      // As load() does for the main file: yaml-cpp may throw on malformed input.
      peer_doc.error(Location{file.string(), 0, 0}, "", std::string("internal error: ") + e.what());
    }
  };
  constexpr std::size_t kFilesPerThread = 256;  // below that a thread costs more than it saves
  const std::size_t threads = std::min<std::size_t>(
      std::max(1u, std::thread::hardware_concurrency()), files.size() / kFilesPerThread + 1);
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < files.size();)
      parse_file(i);
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();

  for (std::size_t i = 0; i < parsed.size(); ++i) {
    Parsed& p = parsed[i];
    errors.insert(errors.end(), std::make_move_iterator(p.errors.begin()),
                  std::make_move_iterator(p.errors.end()));
    ++(p.reused ? io.reused : io.parsed);
    if (p.peer) {
      peers.push_back(std::move(*p.peer));
      io.files.emplace_back(files[i].string(), p.digest);
    }
  }
}

}  // namespace wghub::config::detail
