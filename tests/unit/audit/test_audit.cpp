// The audit trail's line format: one JSON object per line, strings escaped
// per RFC 8259, appended to the file as well as (optionally) stdout, and a
// symlink in place of the file refused; a batch writes whole lines in order.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "control/audit.hpp"
#include "control/log.hpp"

namespace wghub::ctl {
namespace {

TEST(Audit, JsonEscapeTable) {
  EXPECT_EQ(json_escape("plain"), "plain");
  EXPECT_EQ(json_escape("a\"b"), "a\\\"b");
  EXPECT_EQ(json_escape("back\\slash"), "back\\\\slash");
  EXPECT_EQ(json_escape("line\nbreak\ttab\rcr"), "line\\nbreak\\ttab\\rcr");
  EXPECT_EQ(json_escape(std::string("nul\0x", 5)), "nul\\u0000x");
  EXPECT_EQ(json_escape("\x1f"), "\\u001f");
  EXPECT_EQ(json_escape("ünïcode"), "ünïcode");  // UTF-8 passes through
}

// Escapes after a plain prefix, and appends to what is there.
TEST(Audit, JsonEscapeAppends) {
  std::string out = "{\"k\":\"";
  append_json_escaped(out, "name-with \"quote\" and\ttab");
  EXPECT_EQ(out, "{\"k\":\"name-with \\\"quote\\\" and\\ttab");
}

// Log and audit lines begin with the same UTC timestamp, to the
// millisecond; its date and time of day are cached per second.
TEST(Audit, UtcTimestampMatchesTheClock) {
  char a[32], b[32];
  const std::time_t before = std::time(nullptr);
  const std::size_t n = utc_timestamp(a);
  utc_timestamp(b);
  const std::time_t after = std::time(nullptr);
  ASSERT_EQ(n, 24u);
  EXPECT_EQ(std::strlen(a), 24u);
  EXPECT_EQ(a[4], '-');
  EXPECT_EQ(a[10], 'T');
  EXPECT_EQ(a[19], '.');
  EXPECT_EQ(a[23], 'Z');
  for (int i : {20, 21, 22}) EXPECT_TRUE(a[i] >= '0' && a[i] <= '9') << a;
  // The seconds it names are those of the clock around the call.
  bool matches = false;
  for (std::time_t t = before; t <= after; ++t) {
    std::tm utc;
    gmtime_r(&t, &utc);
    char want[32];
    std::strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &utc);
    matches = matches || std::string(a, 19) == want;
  }
  EXPECT_TRUE(matches) << a;
  EXPECT_LE(std::string(a), std::string(b)) << "a later call is not earlier";
}

TEST(Audit, EventIsOneJsonObject) {
  AuditEvent e("peer_added");
  e.add("peer", "plant \"7\"")
      .add("allowed_ips", std::vector<std::string>{"10.1.0.0/24", "10.2.0.0/24"})
      .add("peers", std::uint64_t{42})
      .add("preshared_key", true);
  const std::string line = e.str();
  EXPECT_EQ(line.rfind("{\"ts\":\"", 0), 0u) << line;
  EXPECT_NE(line.find("\",\"event\":\"peer_added\",\"peer\":\"plant \\\"7\\\"\","
                      "\"allowed_ips\":[\"10.1.0.0/24\",\"10.2.0.0/24\"],\"peers\":42,"
                      "\"preshared_key\":true}"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Audit, AppendsLinesToFile) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("wghub-audit-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "audit.jsonl";
  std::string error;
  audit_to_stdout(false);
  ASSERT_TRUE(audit_open_file(file, error)) << error;
  AuditEvent("config_applied").add("peers", std::uint64_t{3}).emit();
  AuditEvent e("peer_removed");
  e.add("peer", "a");
  e.emit();
  e.emit();  // once only
  audit_close_file();
  ASSERT_TRUE(audit_open_file(file, error)) << error;  // appends, never truncates
  AuditEvent("under_load").add("state", "entered").emit();
  audit_close_file();

  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("\"event\":\"config_applied\",\"peers\":3}"), std::string::npos);
  EXPECT_NE(lines[1].find("\"event\":\"peer_removed\",\"peer\":\"a\"}"), std::string::npos);
  EXPECT_NE(lines[2].find("\"event\":\"under_load\",\"state\":\"entered\"}"), std::string::npos);
  EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::others_all,
            std::filesystem::perms::none);

  // A symlink where the log should be is refused (O_NOFOLLOW).
  const auto link = dir / "link.jsonl";
  std::filesystem::create_symlink(file, link);
  EXPECT_FALSE(audit_open_file(link, error));
  EXPECT_NE(error.find(link.string()), std::string::npos) << error;
  std::filesystem::remove_all(dir);
  audit_to_stdout(true);
}

std::vector<std::string> file_lines(const std::filesystem::path& file, bool* whole = nullptr) {
  std::ifstream in(file);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (whole != nullptr) *whole = text.empty() || text.back() == '\n';
  std::vector<std::string> lines;
  std::size_t at = 0;
  for (std::size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(text.substr(at, nl - at));
  return lines;
}

// A batch (the start's bulk peer_added lines) holds its lines until the last
// batch ends, or writes them early once 256 KiB gather: whole lines, in order.
TEST(Audit, BatchWritesWholeLinesInOrder) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("wghub-audit-batch-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "audit.jsonl";
  std::string error;
  audit_to_stdout(false);
  ASSERT_TRUE(audit_open_file(file, error)) << error;
  {
    const AuditBatch outer;
    AuditEvent("peer_added").add("peer", "p0").emit();
    {
      const AuditBatch inner;
      AuditEvent("peer_added").add("peer", "p1").emit();
    }
    EXPECT_TRUE(file_lines(file).empty()) << "the outer batch still holds them";
    AuditEvent("peer_added").add("peer", "p2").emit();
  }
  std::vector<std::string> lines = file_lines(file);
  ASSERT_EQ(lines.size(), 3u);
  for (int i = 0; i < 3; ++i)
    EXPECT_NE(lines[i].find("\"peer\":\"p" + std::to_string(i) + "\"}"), std::string::npos)
        << lines[i];

  // Past 256 KiB a batch writes what it has: whole lines only.
  const std::string pad(200, 'x');
  constexpr int kMany = 2000;  // ~500 KiB
  {
    const AuditBatch batch;
    for (int i = 0; i < kMany; ++i)
      AuditEvent("peer_added").add("peer", "q" + std::to_string(i)).add("pad", pad).emit();
    bool whole = false;
    const std::size_t early = file_lines(file, &whole).size();
    EXPECT_GT(early, 3u) << "written before the batch ended";
    EXPECT_LT(early, 3u + kMany);
    EXPECT_TRUE(whole);
  }
  audit_close_file();
  bool whole = false;
  lines = file_lines(file, &whole);
  EXPECT_TRUE(whole);
  ASSERT_EQ(lines.size(), 3u + kMany);
  for (int i = 0; i < kMany; ++i)
    ASSERT_NE(lines[3 + i].find("\"peer\":\"q" + std::to_string(i) + "\","), std::string::npos)
        << lines[3 + i];
  std::filesystem::remove_all(dir);
  audit_to_stdout(true);
}

}  // namespace
}  // namespace wghub::ctl
