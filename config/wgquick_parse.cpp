// The wg-quick parser (see wgquick.hpp): a line parser for the wg(8)/wg-quick(8)
// INI format into a WgQuickConfig, with the peer-name rules, and
// sanitize_peer_name.
//
// Format notes (wireguard-tools src/config.c, wg-quick.bash): section names
// and keys are case-insensitive; '#' starts a comment anywhere on a line;
// AllowedIPs and Address take comma lists and may repeat; wg-quick consumes
// Address, DNS, MTU, Table, PreUp, PreDown, PostUp, PostDown and SaveConfig
// itself and hands the rest to `wg setconf`, which refuses unknown keys.
#include "config/wgquick.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/keys.hpp"
#include "config/wgquick_text.hpp"
#include "crypto/base64.hpp"

namespace wghub::config {

using detail::wipe_string;

namespace {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return lower(a) == lower(b);
}

std::vector<std::string_view> split_list(std::string_view value) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= value.size()) {
    auto comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    auto item = trim(value.substr(start, comma - start));
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

bool valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() > 15) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '=' || c == '+' || c == '.' || c == '-';
  });
}

bool peer_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// A secret key from base64; the decoded bytes never outlive the Key.
std::shared_ptr<const crypto::Key> decode_secret(std::string_view text) {
  auto bytes = crypto::key_from_base64(text);
  if (!bytes) return nullptr;
  auto key = std::make_shared<crypto::Key>(std::span<const std::uint8_t, 32>(*bytes));
  crypto::wipe(bytes->data(), bytes->size());
  return key;
}

std::optional<unsigned long> parse_uint(std::string_view text, unsigned long max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  unsigned long v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned long>(c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

// wg-quick keys that have no meaning for wghub, with the reason shown to the operator.
const std::map<std::string, const char*>& ignored_interface_keys() {
  static const std::map<std::string, const char*> keys = {
      {"dns", "wghub does not manage the host's resolver"},
      {"mtu", "wghub's data plane sets MTUs per port"},
      {"table", "wghub routes with its own FIB, not the kernel's tables"},
      {"preup", "wghub runs no hook commands"},
      {"predown", "wghub runs no hook commands"},
      {"postup", "wghub runs no hook commands"},
      {"postdown", "wghub runs no hook commands"},
      {"saveconfig", "wghub's YAML is the only source of its config"},
      {"fwmark", "wghub sends from its DPDK port, not a kernel socket"},
  };
  return keys;
}

// A parse in progress: the config being built and where each single-valued
// key was first set (for "set twice" errors).
struct PeerDraftWg {
  WgQuickPeer peer;
  bool have_key = false;
  std::string comment_name;  // from rule 1 or 2, before sanitizing
  Location comment_at;
  std::map<std::string, int> seen;  // lower-case key -> line
};

class Parser {
 public:
  Parser(std::string file, WgQuickResult& out) : file_(std::move(file)), out_(out) {}

  void run(std::string_view text);

 private:
  void error(int line, int column, std::string field, std::string message) {
    out_.errors.push_back(ConfigError{file_, line, column, std::move(field), std::move(message)});
  }
  void warn(int line, int column, std::string field, std::string message) {
    out_.warnings.push_back(ConfigError{file_, line, column, std::move(field), std::move(message)});
  }
  void comment_line(int line, std::string_view comment);
  void section(int line, int column, std::string_view header, std::string_view prev_comment);
  void interface_key(int line, int col, const std::string& key, std::string_view value,
                     int value_col);
  void peer_key(int line, int col, const std::string& key, std::string_view value, int value_col);
  bool first_time(std::map<std::string, int>& seen, int line, int col, const std::string& key);
  void finish();

  // skip: inside an unknown section (already reported; its keys are not).
  enum class Section { none, interface, peer, skip };

  std::string file_;
  WgQuickResult& out_;
  WgQuickConfig config_;
  Section section_ = Section::none;
  int interface_line_ = 0;
  std::map<std::string, int> interface_seen_;
  std::vector<InterfaceAddress> addresses_;
  std::vector<int> address_lines_;
  std::vector<PeerDraftWg> peers_;
  std::string pending_name_;  // rule 1 written outside a [Peer] section
  Location pending_at_;
};

void Parser::run(std::string_view text) {
  int line_no = 0;
  std::size_t pos = 0;
  std::string prev_comment;  // the previous line, when it was a plain comment line
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view raw = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);

    const auto hash = raw.find('#');
    std::string_view content = trim(raw.substr(0, hash));
    std::string this_comment;
    if (content.empty()) {
      if (hash != std::string_view::npos) {
        comment_line(line_no, raw.substr(hash + 1));
        this_comment = std::string(trim(raw.substr(hash + 1)));
        if (this_comment.empty()) this_comment = " ";  // a bare '#' still blocks rule 2
      }
      prev_comment = this_comment;
      continue;
    }
    const int col = static_cast<int>(content.data() - raw.data()) + 1;
    if (content.front() == '[') {
      section(line_no, col, content, prev_comment);
      prev_comment.clear();
      continue;
    }
    prev_comment.clear();
    const auto eq = content.find('=');
    if (eq == std::string_view::npos) {
      error(line_no, col, "",
            "expected 'Key = value' or a section header like [Peer], got '" + std::string(content) +
                "'");
      continue;
    }
    const std::string key(trim(content.substr(0, eq)));
    std::string_view value = trim(content.substr(eq + 1));
    const int value_col = value.empty() ? col + static_cast<int>(eq) + 1
                                        : static_cast<int>(value.data() - raw.data()) + 1;
    switch (section_) {
      case Section::none:
        error(line_no, col, key,
              "'" + key + "' before any section; a wg-quick file starts with [Interface]");
        break;
      case Section::interface:
        interface_key(line_no, col, key, value, value_col);
        break;
      case Section::peer:
        peer_key(line_no, col, key, value, value_col);
        break;
      case Section::skip:
        break;
    }
  }
  finish();
}

void Parser::comment_line(int line, std::string_view comment) {
  const auto eq = comment.find('=');
  if (eq == std::string_view::npos) return;
  if (!iequals(trim(comment.substr(0, eq)), "friendly_name")) return;
  const std::string name(trim(comment.substr(eq + 1)));
  const Location at{file_, line, 1};
  if (section_ == Section::peer) {
    auto& draft = peers_.back();
    if (!draft.comment_name.empty() && draft.comment_at.line > draft.peer.origin.line) {
      warn(line, 1, "friendly_name",
           "second friendly_name for this peer (first at line " +
               std::to_string(draft.comment_at.line) + "); the last one is used");
    }
    draft.comment_name = name;
    draft.comment_at = at;
  } else {
    pending_name_ = name;
    pending_at_ = at;
  }
}

void Parser::section(int line, int column, std::string_view header, std::string_view prev_comment) {
  if (header.back() != ']') {
    error(line, column, "", "section header '" + std::string(header) + "' lacks its closing ']'");
    section_ = Section::skip;
    return;
  }
  const std::string name(trim(header.substr(1, header.size() - 2)));
  if (iequals(name, "Interface")) {
    if (interface_line_ != 0) {
      error(line, column, "[Interface]",
            "second [Interface] section (the first is at line " + std::to_string(interface_line_) +
                "); a wg-quick file describes one interface");
    } else {
      interface_line_ = line;
    }
    section_ = Section::interface;
    return;
  }
  if (iequals(name, "Peer")) {
    section_ = Section::peer;
    PeerDraftWg draft;
    draft.peer.origin = Location{file_, line, column};
    if (!pending_name_.empty()) {
      draft.comment_name = pending_name_;
      draft.comment_at = pending_at_;
      pending_name_.clear();
    } else if (!prev_comment.empty() && prev_comment != " " &&
               prev_comment.find('=') == std::string_view::npos) {
      // Rule 2; a later rule-1 line in this section overrides it.
      draft.comment_name = std::string(prev_comment);
      draft.comment_at = Location{file_, line - 1, 1};
    }
    peers_.push_back(std::move(draft));
    return;
  }
  error(line, column, "",
        "unknown section [" + name + "]; a wg-quick file has [Interface] and [Peer] sections");
  section_ = Section::skip;
}

bool Parser::first_time(std::map<std::string, int>& seen, int line, int col,
                        const std::string& key) {
  const std::string k = lower(key);
  auto [it, inserted] = seen.emplace(k, line);
  if (!inserted) {
    error(line, col, key,
          "set twice in this section (first at line " + std::to_string(it->second) + "); keep one");
    return false;
  }
  return true;
}

void Parser::interface_key(int line, int col, const std::string& key, std::string_view value,
                           int value_col) {
  const std::string k = lower(key);
  if (k == "privatekey") {
    if (!first_time(interface_seen_, line, col, key)) return;
    auto secret = decode_secret(value);
    if (!secret) {
      error(line, value_col, key,
            "not a valid key; expected the 44-character base64 key printed by 'wg genkey'");
      return;
    }
    config_.private_key = std::move(secret);
  } else if (k == "listenport") {
    if (!first_time(interface_seen_, line, col, key)) return;
    auto port = parse_uint(value, 65535);
    if (!port) {
      error(line, value_col, key,
            "expected a port number 0..65535, got '" + std::string(value) + "'");
    } else if (*port == 0) {
      warn(line, value_col, key,
           "0 picks a random port in wg(8); wghub needs a fixed one and uses its default 51820");
    } else {
      config_.listen_port = static_cast<std::uint16_t>(*port);
    }
  } else if (k == "address") {
    for (auto item : split_list(value)) {
      auto parsed = parse_cidr(item, /*allow_bare=*/true);
      if (!parsed) {
        error(line, value_col, key, parsed.error);
        continue;
      }
      addresses_.push_back(*parsed.value);
      address_lines_.push_back(line);
    }
  } else if (auto it = ignored_interface_keys().find(k); it != ignored_interface_keys().end()) {
    warn(line, col, key, "wg-quick setting ignored: " + std::string(it->second));
  } else {
    error(line, col, key,
          "unknown key '" + key +
              "' in [Interface]; known: PrivateKey, ListenPort, Address (and wg-quick's DNS, "
              "MTU, Table, PreUp, PostUp, PreDown, PostDown, SaveConfig, FwMark, which are "
              "ignored)");
  }
}

void Parser::peer_key(int line, int col, const std::string& key, std::string_view value,
                      int value_col) {
  auto& draft = peers_.back();
  const std::string k = lower(key);
  if (k == "publickey") {
    if (!first_time(draft.seen, line, col, key)) return;
    auto parsed = parse_public_key(value);
    if (!parsed) {
      error(line, value_col, key, parsed.error);
      return;
    }
    for (std::size_t i = 0; i + 1 < peers_.size(); ++i) {
      if (peers_[i].have_key && peers_[i].peer.public_key == *parsed.value) {
        error(line, value_col, key,
              "this public key is already the peer at line " +
                  std::to_string(peers_[i].peer.origin.line) + "; merge the two [Peer] sections");
        return;
      }
    }
    draft.peer.public_key = *parsed.value;
    draft.have_key = true;
  } else if (k == "presharedkey") {
    if (!first_time(draft.seen, line, col, key)) return;
    auto secret = decode_secret(value);
    if (!secret) {
      error(line, value_col, key,
            "not a valid key; expected the 44-character base64 key printed by 'wg genpsk'");
      return;
    }
    draft.peer.preshared_key = std::move(secret);
  } else if (k == "allowedips") {
    for (auto item : split_list(value)) {
      auto parsed = Prefix::parse(item);
      if (!parsed) {
        error(line, value_col, key, parsed.error);
        continue;
      }
      auto& list = draft.peer.allowed_ips;
      if (std::find(list.begin(), list.end(), *parsed.value) != list.end()) {
        warn(line, value_col, key, parsed.value->to_string() + " is listed twice; kept once");
        continue;
      }
      list.push_back(*parsed.value);
    }
  } else if (k == "endpoint") {
    if (!first_time(draft.seen, line, col, key)) return;
    auto parsed = Endpoint::parse(value);
    if (!parsed) {
      error(line, value_col, key,
            parsed.error +
                " (wghub needs an IP literal; or delete the line: the hub learns a site's "
                "endpoint from its handshakes)");
      return;
    }
    draft.peer.endpoint = *parsed.value;
  } else if (k == "persistentkeepalive") {
    if (!first_time(draft.seen, line, col, key)) return;
    if (iequals(value, "off")) {
      draft.peer.persistent_keepalive = 0;
      return;
    }
    auto secs = parse_uint(value, 65535);
    if (!secs) {
      error(line, value_col, key,
            "expected seconds 0..65535 or 'off', got '" + std::string(value) + "'");
      return;
    }
    draft.peer.persistent_keepalive = static_cast<std::uint16_t>(*secs);
  } else {
    error(line, col, key,
          "unknown key '" + key +
              "' in [Peer]; known: PublicKey, PresharedKey, AllowedIPs, Endpoint, "
              "PersistentKeepalive");
  }
}

void Parser::finish() {
  if (interface_line_ == 0) {
    out_.errors.push_back(ConfigError{file_, 0, 0, "", "no [Interface] section"});
  } else if (!config_.private_key && !interface_seen_.count("privatekey")) {
    error(interface_line_, 1, "PrivateKey",
          "[Interface] has no PrivateKey; wghub needs the hub's private key");
  }
  if (!pending_name_.empty()) {
    warn(pending_at_.line, 1, "friendly_name", "no [Peer] section follows; ignored");
  }

  // Address: wghub keeps one (the first IPv4, as the hub's overlay address).
  if (!addresses_.empty()) {
    std::size_t keep = 0;
    for (std::size_t i = 0; i < addresses_.size(); ++i) {
      if (addresses_[i].address.family == Family::v4) {
        keep = i;
        break;
      }
    }
    config_.address = addresses_[keep];
    for (std::size_t i = 0; i < addresses_.size(); ++i) {
      if (i == keep) continue;
      warn(address_lines_[i], 1, "Address",
           "wghub has one interface address; keeping " + addresses_[keep].to_string() +
               ", ignoring " + addresses_[i].to_string());
    }
  }

  std::set<std::string> used;
  for (auto& draft : peers_) {
    auto& peer = draft.peer;
    if (!draft.have_key) {
      if (!draft.seen.count("publickey")) {
        error(peer.origin.line, peer.origin.column, "[Peer]", "this [Peer] has no PublicKey");
      }
      continue;
    }
    std::string name = sanitize_peer_name(draft.comment_name);
    if (!draft.comment_name.empty() && name != draft.comment_name) {
      if (name.empty()) {
        warn(draft.comment_at.line, 1, "friendly_name",
             "'" + draft.comment_name + "' has nothing usable for a wghub peer name");
      } else {
        warn(draft.comment_at.line, 1, "friendly_name",
             "'" + draft.comment_name +
                 "' is not a valid wghub peer name (1 to 64 of A-Z a-z "
                 "0-9 _ . -); using '" +
                 name + "'");
      }
    }
    if (name.empty()) {
      std::string key = crypto::key_to_base64(peer.public_key.data()).substr(0, 8);
      for (char& c : key) {
        if (!peer_name_char(c)) c = '-';
      }
      name = "peer-" + key;
    }
    if (used.count(name)) {
      std::string base = name.substr(0, 60);
      int n = 2;
      while (used.count(base + "-" + std::to_string(n))) ++n;
      const std::string unique = base + "-" + std::to_string(n);
      warn(peer.origin.line, peer.origin.column, "friendly_name",
           "the name '" + name + "' is already used by another peer; using '" + unique + "'");
      name = unique;
    }
    used.insert(name);
    peer.name = name;
    config_.peers.push_back(std::move(peer));
  }

  if (out_.errors.empty()) out_.config = std::move(config_);
}

}  // namespace

std::string sanitize_peer_name(std::string_view text) {
  std::string out;
  for (char c : trim(text)) {
    if (peer_name_char(c)) {
      out += c;
    } else if (out.empty() || out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.front() == '-') out.erase(out.begin());
  if (out.size() > 64) out.resize(64);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

WgQuickResult parse_wgquick(std::string_view text, const std::string& file) {
  WgQuickResult result;
  Parser parser(file, result);
  parser.run(text);
  // Some checks run at the end of the file; report in file order.
  auto by_line = [](const ConfigError& a, const ConfigError& b) { return a.line < b.line; };
  std::stable_sort(result.errors.begin(), result.errors.end(), by_line);
  std::stable_sort(result.warnings.begin(), result.warnings.end(), by_line);
  if (result.config) {
    std::string stem = std::filesystem::path(file).filename().string();
    if (stem.size() > 5 && stem.ends_with(".conf")) stem.resize(stem.size() - 5);
    result.config->interface_name = valid_interface_name(stem) ? stem : kDefaultInterfaceName;
  }
  return result;
}

WgQuickResult read_wgquick_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    WgQuickResult result;
    result.errors.push_back(
        ConfigError{path, 0, 0, "", std::string("cannot read: ") + std::strerror(errno)});
    return result;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  auto result = parse_wgquick(text, path);
  wipe_string(text);  // it held the private key
  return result;
}

}  // namespace wghub::config
