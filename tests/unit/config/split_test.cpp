// Inline peers parsed on every core (config/peers_split.hpp): a file with
// thousands of inline peers loads to the same state, with the same messages
// naming the same lines, in the same order, as when it is parsed as one
// document. A '*' anywhere in a file (an alias could hide there) keeps it
// whole, so each case loads the same peers both ways and compares.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "config/diff.hpp"
#include "config/loader.hpp"
#include "config/peers_split.hpp"
#include "crypto/base64.hpp"
#include "temp_dir.hpp"

namespace wghub::config {
namespace {

using test::key_text;
using test::kHead;
using test::messages;
using test::TempDir;

constexpr int kPeers = 5000;  // above detail::kSplitPeersFrom

std::string unique_key(int i) {
  std::uint8_t bytes[32];
  for (auto& b : bytes) b = 0x11;
  for (int k = 0; k < 4; ++k) bytes[k] = static_cast<std::uint8_t>(i >> (8 * k));
  return crypto::key_to_base64(bytes);
}

// `peers:` with kPeers items; `edit(i, lines)` may change peer i's lines.
// `whole` ends the block with a comment holding '*', which keeps the file
// in one piece and moves no line.
template <typename Edit>
std::string config(bool whole, Edit edit) {
  std::string out = kHead + "peers:\n";
  for (int i = 0; i < kPeers; ++i) {
    std::string lines = "  - name: p" + std::to_string(i) + "\n    public_key: " + unique_key(i) +
                        "\n    allowed_ips: [10." + std::to_string(i / 250) + "." +
                        std::to_string(i % 250) + ".0/24]\n";
    edit(i, lines);
    out += lines;
  }
  if (whole) out += "# * keeps it whole\n";
  return out + "metrics:\n  enabled: false\n";  // a section after the peers
}

class Split : public ::testing::Test {
 protected:
  void SetUp() override { dir_.write("hub.key", key_text(0x42) + "\n", 0600); }
  // Loads the file both ways: {split, whole}.
  template <typename Edit>
  std::pair<LoadResult, LoadResult> load_both(Edit edit) {
    dir_.write("split.yaml", config(false, edit));
    dir_.write("whole.yaml", config(true, edit));
    return {load_config_file(dir_ / "split.yaml"), load_config_file(dir_ / "whole.yaml")};
  }
  bool splits(const std::string& file) {
    std::vector<ConfigError> errors;
    const detail::Doc doc(dir_ / file, errors);
    std::ifstream in(dir_ / file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto parsed = detail::parse_document_split(doc, text);
    return parsed && parsed->peers.has_value();
  }

  TempDir dir_;
};

TEST_F(Split, SameStateAsOneDocument) {
  const auto [split, whole] = load_both([](int, std::string&) {});
  EXPECT_TRUE(splits("split.yaml"));
  EXPECT_FALSE(splits("whole.yaml"));
  ASSERT_TRUE(split.ok()) << split.error_text();
  ASSERT_TRUE(whole.ok()) << whole.error_text();
  ASSERT_EQ(split.state->peers.size(), static_cast<std::size_t>(kPeers));
  EXPECT_TRUE(diff(*split.state, *whole.state).empty());
  for (int i : {0, 1, 2047, 2048, 2500, kPeers - 1}) {
    const Peer& a = split.state->peers[i];
    const Peer& b = whole.state->peers[i];
    EXPECT_EQ(a.name, "p" + std::to_string(i));
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.public_key, b.public_key);
    EXPECT_EQ(a.allowed_ips, b.allowed_ips);
    // Where each was defined: the file names differ, the line must not.
    EXPECT_EQ(a.origin.line, b.origin.line) << i;
    EXPECT_EQ(a.origin.column, b.origin.column) << i;
  }
  EXPECT_FALSE(split.state->metrics.enabled);  // the section after the peers was read
}

TEST_F(Split, SameMessagesSameLinesSameOrder) {
  const auto [split, whole] = load_both([](int i, std::string& lines) {
    if (i == 10)
      lines = "  - name: p10\n    public_key: not-a-key\n    allowed_ips: [10.200.0.0/24]\n";
    if (i == 2500)
      lines = "  - name: p2500\n    public_key: " + unique_key(2500) +
              "\n    allowed_ips: [10.300.0.0/24]\n";
    if (i == 4000)
      lines = "  - name: p4000\n    public_key: " + unique_key(100) +
              "\n    allowed_ips: [10.201.0.0/24]\n";  // p100's key again
    if (i == kPeers - 1)
      lines = "  - name: last\n    public_key: " + unique_key(i) +
              "\n    alowed_ips: [10.202.0.0/24]\n";
  });
  EXPECT_TRUE(splits("split.yaml"));
  ASSERT_FALSE(split.ok());
  std::vector<std::string> a = messages(split), b = messages(whole);
  ASSERT_GE(a.size(), 4u);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    // Each names its own file; otherwise (line:column: field: message) the same.
    std::string named = a[i];
    for (std::size_t at; (at = named.find("split.yaml")) != std::string::npos;)
      named.replace(at, 10, "whole.yaml");
    EXPECT_EQ(named, b[i]);
  }
}

TEST_F(Split, SyntaxErrorGivesTheWholeFilesMessage) {
  const auto [split, whole] = load_both([](int i, std::string& lines) {
    if (i == 3000)
      lines = "  - name: p3000\n    public_key: " + unique_key(i) +
              "\n    allowed_ips: [10.12.0.0/24\n";  // unclosed
  });
  ASSERT_FALSE(split.ok());
  ASSERT_EQ(split.errors.size(), 1u);
  ASSERT_EQ(whole.errors.size(), 1u);
  EXPECT_NE(split.errors[0].message.find("YAML syntax error"), std::string::npos);
  EXPECT_EQ(split.errors[0].line, whole.errors[0].line);
  EXPECT_EQ(split.errors[0].message, whole.errors[0].message);
}

TEST_F(Split, OnlyABlockListIsCut) {
  std::string flow = kHead + "peers: [";
  for (int i = 0; i < kPeers; ++i)
    flow += std::string(i ? ", " : "") + "{name: p" + std::to_string(i) +
            ", public_key: " + unique_key(i) + ", allowed_ips: [10." + std::to_string(i / 250) +
            "." + std::to_string(i % 250) + ".0/24]}";
  dir_.write("flow.yaml", flow + "]\n");
  EXPECT_FALSE(splits("flow.yaml"));
  const LoadResult r = load_config_file(dir_ / "flow.yaml");
  ASSERT_TRUE(r.ok()) << r.error_text();
  EXPECT_EQ(r.state->peers.size(), static_cast<std::size_t>(kPeers));
}

}  // namespace
}  // namespace wghub::config
