// See peers_split.hpp.
#include "config/peers_split.hpp"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <string_view>
#include <thread>

namespace wghub::config::detail {

namespace {

// Items per chunk. Small enough that a chunk's yaml-cpp tree (a few
// allocations per node) is freed and its memory reused by the thread's next
// chunk while it is still in cache: one tree of half the file made the heap
// grow page by page (sysmalloc and page faults were a third of a 10^5-peer
// load). Large enough that a chunk's "peers:" and its bookkeeping are noise.
constexpr std::size_t kItemsPerChunk = 512;
// Items a thread at least: below that a thread costs more than it saves.
constexpr std::size_t kItemsPerThread = 2048;

struct Line {
  std::size_t begin, end;  // [begin, end) of the text, without the line feed
};

std::vector<Line> lines_of(std::string_view text) {
  std::vector<Line> lines;
  lines.reserve(text.size() / 24 + 1);
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back({begin, end});
    begin = end + 1;
  }
  return lines;
}

// Spaces before the first other character; npos for a blank line or a
// comment-only one (which YAML ignores wherever they are).
std::size_t indent_of(std::string_view line) {
  const std::size_t i = line.find_first_not_of(' ');
  if (i == std::string_view::npos || line[i] == '#' || line[i] == '\r')
    return std::string_view::npos;
  return i;
}

bool is_item(std::string_view line, std::size_t indent) {
  return line.size() > indent && line[indent] == '-' &&
         (line.size() == indent + 1 || line[indent + 1] == ' ' || line[indent + 1] == '\r');
}

// The peers block: its items' first lines, and the line after the block.
struct Block {
  std::size_t key_line = 0;
  std::vector<std::size_t> items;
  std::size_t end_line = 0;
};

std::optional<Block> find_block(std::string_view text, const std::vector<Line>& lines,
                                std::size_t split_from) {
  // Anchors and aliases could tie one chunk to another; tabs, directives and
  // document markers change how lines read. None of them: or no cut.
  if (text.find_first_of("&*\t") != std::string_view::npos) return std::nullopt;
  std::optional<std::size_t> key;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view l = text.substr(lines[i].begin, lines[i].end - lines[i].begin);
    if (l.starts_with('%') || l.starts_with("---") || l.starts_with("...")) return std::nullopt;
    if (l.starts_with("peers:")) {
      const std::string_view rest = l.substr(6);
      const std::size_t j = rest.find_first_not_of(" \r");
      if (j != std::string_view::npos && rest[j] != '#') return std::nullopt;  // `peers: [...]`
      if (key) return std::nullopt;  // twice: the sequential load reports it
      key = i;
    }
  }
  if (!key) return std::nullopt;
  Block b;
  b.key_line = *key;
  std::size_t item_indent = std::string_view::npos;
  std::size_t i = *key + 1;
  for (; i < lines.size(); ++i) {
    const std::string_view l = text.substr(lines[i].begin, lines[i].end - lines[i].begin);
    const std::size_t indent = indent_of(l);
    if (indent == std::string_view::npos) continue;
    if (item_indent == std::string_view::npos) {
      if (!is_item(l, indent)) return std::nullopt;  // a mapping, a scalar: not a block list
      item_indent = indent;
    }
    if (indent == 0 && !is_item(l, 0)) break;  // the next top-level key
    if (indent < item_indent) return std::nullopt;
    if (indent == item_indent) {
      if (!is_item(l, indent)) return std::nullopt;
      b.items.push_back(i);
    }
  }
  b.end_line = i;
  if (b.items.size() < split_from) return std::nullopt;
  return b;
}

struct Chunk {
  std::size_t first_item = 0;  // its index in the whole list
  std::size_t first_line = 0;  // the file's line (0-based) of its `peers:` line
  std::string text;            // `peers:` and its items' lines
  std::vector<PeerDraft> peers;
  std::vector<ConfigError> errors;
  bool syntax_error = false;
};

void parse_chunk(const std::string& file, Chunk& c) {
  const Doc doc(file, c.errors, c.first_line);
  const std::optional<YAML::Node> root = parse_document(doc, c.text);
  c.text = std::string();
  if (!root) {
    c.syntax_error = true;
    return;
  }
  const YAML::Node list = (*root)["peers"];
  c.peers.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (auto peer = parse_peer(doc, list[i], element("peers", c.first_item + i), ""))
      c.peers.push_back(std::move(*peer));
  }
}

}  // namespace

std::optional<SplitDocument> parse_document_split(const Doc& doc, const std::string& text,
                                                  std::size_t split_from) {
  const std::vector<Line> lines = lines_of(text);
  const std::optional<Block> block = find_block(text, lines, split_from);
  auto whole = [&]() -> std::optional<SplitDocument> {
    std::optional<YAML::Node> root = parse_document(doc, text);
    if (!root) return std::nullopt;
    return SplitDocument{std::move(*root), std::nullopt};
  };
  if (!block) return whole();

  const std::size_t n = block->items.size();
  std::vector<Chunk> chunks((n + kItemsPerChunk - 1) / kItemsPerChunk);
  for (std::size_t c = 0; c < chunks.size(); ++c) {
    const std::size_t a = c * kItemsPerChunk, z = std::min(n, a + kItemsPerChunk);
    const std::size_t first_line = block->items[a];
    const std::size_t end_line = z < n ? block->items[z] : block->end_line;
    const std::size_t from = lines[first_line].begin;
    const std::size_t to = end_line < lines.size() ? lines[end_line].begin : text.size();
    // `peers:` on the line before the chunk's first item (the file's own
    // `peers:` line or an item's): its items keep their columns, and the
    // Doc adds the line.
    Chunk& k = chunks[c];
    k.first_item = a;
    k.first_line = first_line - 1;
    k.text.reserve(8 + (to - from));
    k.text.append("peers:\n");
    k.text.append(text, from, to - from);
  }
  // The rest of the file with the items' lines blanked (the line count kept).
  std::string rest;
  {
    const std::size_t from = lines[block->items.front()].begin;
    const std::size_t to =
        block->end_line < lines.size() ? lines[block->end_line].begin : text.size();
    rest.reserve(text.size() - (to - from) + (block->end_line - block->items.front()));
    rest.append(text, 0, from);
    rest.append(block->end_line - block->items.front(), '\n');
    rest.append(text, to, std::string::npos);
  }

  // Every thread takes the next chunk until none is left.
  std::atomic<std::size_t> next{0};
  auto work = [&doc, &chunks, &next] {
    for (std::size_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks.size();)
      parse_chunk(doc.file(), chunks[c]);
  };
  const std::size_t threads = std::clamp<std::size_t>(
      std::thread::hardware_concurrency(), 1, std::max<std::size_t>(1, n / kItemsPerThread));
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  std::vector<ConfigError> rest_errors;
  std::optional<YAML::Node> root;
  {
    const Doc rest_doc(doc.file(), rest_errors);
    root = parse_document(rest_doc, rest);
  }
  work();
  for (auto& t : pool) t.join();

  auto blanked = [&root] {        // `peers:` with its items' lines blank reads as null
    const YAML::Node& r = *root;  // const: operator[] must not add the key
    return r.IsMap() && r["peers"].IsDefined() && r["peers"].IsNull();
  };
  const bool clean =
      root && blanked() &&
      std::none_of(chunks.begin(), chunks.end(), [](const Chunk& c) { return c.syntax_error; });
  if (!clean) return whole();  // the whole file's own message, as a sequential load gives
  SplitPeers peers;
  peers.peers.reserve(n);
  for (Chunk& c : chunks) {
    std::move(c.peers.begin(), c.peers.end(), std::back_inserter(peers.peers));
    std::move(c.errors.begin(), c.errors.end(), std::back_inserter(peers.errors));
  }
  return SplitDocument{std::move(*root), std::move(peers)};
}

}  // namespace wghub::config::detail
