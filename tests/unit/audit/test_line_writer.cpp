// The line writer (control/line_writer.hpp): while it runs, lines queued by
// any thread reach their fd whole and in each thread's order; flush waits
// for them; a reader that stops reading costs dropped, counted lines, never
// a blocked caller; stopped, lines are the caller's to write again.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "control/line_writer.hpp"

namespace wghub::ctl {
namespace {

TEST(LineWriter, WholeLinesInEachThreadsOrder) {
  char path[] = "/tmp/wghub-line-writer-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  line_writer_start();
  constexpr int kThreads = 4, kLines = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([fd, t] {
      for (int i = 0; i < kLines; ++i)
        EXPECT_TRUE(line_writer_push(fd, "t" + std::to_string(t) + " " + std::to_string(i) + " " +
                                             std::string(40, 'x') + "\n"));
    });
  for (auto& th : threads) th.join();
  line_writer_flush();
  std::ifstream in(path);
  std::map<int, int> next;
  int lines = 0;
  for (std::string l; std::getline(in, l); ++lines) {
    std::istringstream fields(l);
    std::string who, pad;
    int i = -1;
    fields >> who >> i >> pad;
    ASSERT_EQ(pad, std::string(40, 'x')) << "line " << lines << ": " << l;
    const int t = std::stoi(who.substr(1));
    EXPECT_EQ(i, next[t]) << "thread " << t << " out of order";
    next[t] = i + 1;
  }
  EXPECT_EQ(lines, kThreads * kLines);
  line_writer_stop();
  EXPECT_FALSE(line_writer_push(fd, "after stop\n")) << "the caller writes it";
  ::close(fd);
  ::unlink(path);
}

// A reader that stops: the pipe fills, the writer blocks in write(2), the
// queue reaches its budget and further lines are dropped and counted; the
// callers never wait. Reading again, what was queued comes out whole.
TEST(LineWriter, AStuckReaderCostsCountedLinesNotAWait) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  line_writer_start();
  const std::uint64_t dropped0 = line_writer_dropped();
  const std::string line = std::string(1023, 'y') + "\n";
  const std::size_t fit = kLineWriterBudgetBytes / line.size();
  // Nobody reads. The writer may take what is queued in batches (a batch as
  // large as the whole queue) until one blocks on the full pipe; from then on
  // the queue fills to its budget and lines are dropped. So a line is dropped
  // before the pipe, one batch in flight and a full queue have taken more
  // than twice the budget. No call waits: a waiting push would hang here.
  const std::size_t limit = 2 * fit + (std::size_t{1} << 20) / line.size();
  std::size_t pushed = 0;
  while (line_writer_dropped() == dropped0 && pushed < limit) {
    ASSERT_TRUE(line_writer_push(p[1], line));
    ++pushed;
  }
  ASSERT_GT(line_writer_dropped(), dropped0) << "no line dropped after " << pushed;
  // The writer is stuck now: more lines are dropped, each counted.
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(line_writer_push(p[1], line));
  const std::size_t total = pushed + 1000;
  const std::uint64_t dropped = line_writer_dropped() - dropped0;
  EXPECT_GE(dropped, 1u);
  EXPECT_LE(dropped, 1001u);
  // Reading again, every line that was queued arrives, whole.
  const std::size_t expected = (total - dropped) * line.size();
  std::string got;
  std::thread reader([&] {
    char buf[65536];
    while (got.size() < expected) {
      const ssize_t n = ::read(p[0], buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
  });
  line_writer_flush();
  reader.join();
  line_writer_stop();
  EXPECT_EQ(got.size(), expected);
  for (std::size_t at = 0; at + line.size() <= got.size(); at += line.size())
    ASSERT_EQ(got.compare(at, line.size(), line), 0) << "a torn line at byte " << at;
  ::close(p[0]);
  ::close(p[1]);
}

}  // namespace
}  // namespace wghub::ctl
