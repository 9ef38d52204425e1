#include "control/line_writer.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "control/log.hpp"

namespace wghub::ctl {

namespace {

struct Pending {
  int fd;
  std::string text;
};

struct Writer {
  std::mutex mu;
  std::condition_variable wake;
  std::vector<Pending> queue;  // under mu
  std::size_t queued_bytes = 0;
  bool running = false;
  bool stopping = false;
  bool idle = false;          // the writer waits for a notify (else it looks again soon)
  std::uint64_t pushed = 0;   // lines queued, under mu
  std::uint64_t written = 0;  // ... and written, under mu
  std::condition_variable drained;
  std::thread thread;
  std::atomic<std::uint64_t> dropped{0};
  std::uint64_t reported = 0;  // writer thread only
};

Writer& writer() {
  static Writer* w = new Writer();  // never destroyed: lines may come from exit paths
  return *w;
}

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere to say so: the line is lost
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Consecutive lines for the same fd go out in one write.
void write_batch(std::vector<Pending>& batch) {
  std::string run;
  int fd = -1;
  for (Pending& p : batch) {
    if (p.fd != fd && !run.empty()) {
      write_all(fd, run.data(), run.size());
      run.clear();
    }
    fd = p.fd;
    run += p.text;
  }
  if (!run.empty()) write_all(fd, run.data(), run.size());
  batch.clear();
}

void run_writer() {
  Writer& w = writer();
  std::vector<Pending> batch;
  for (;;) {
    {
      std::unique_lock lock(w.mu);
      if (w.queue.empty() && !w.stopping) {
        w.idle = true;
        w.wake.wait(lock, [&] { return w.stopping || !w.queue.empty(); });
        w.idle = false;
      }
      if (w.queue.empty() && w.stopping) return;
      batch.swap(w.queue);
      w.queued_bytes = 0;
    }
    const std::size_t lines = batch.size();
    write_batch(batch);
    {
      std::lock_guard lock(w.mu);
      w.written += lines;
    }
    w.drained.notify_all();
    const std::uint64_t dropped = w.dropped.load(std::memory_order_relaxed);
    if (dropped != w.reported) {
      // Queued like any line (the next batch writes it), with its timestamp.
      log_warn(
          "%llu log/audit line(s) dropped: stdout or the audit log was not read fast "
          "enough (wghub_log_lines_dropped_total)",
          static_cast<unsigned long long>(dropped - w.reported));
      w.reported = dropped;
    }
    // Let lines gather: a flood's lines then cost one write (and one wake)
    // per few ms, not a syscall each. A line waits at most this long.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

void line_writer_start() {
  Writer& w = writer();
  std::lock_guard lock(w.mu);
  if (w.running) return;
  std::fflush(stdout);
  std::fflush(stderr);
  w.stopping = false;
  w.running = true;
  w.thread = std::thread(run_writer);
}

void line_writer_stop() {
  Writer& w = writer();
  {
    std::lock_guard lock(w.mu);
    if (!w.running) return;
    w.stopping = true;
  }
  w.wake.notify_one();
  w.thread.join();
  std::lock_guard lock(w.mu);
  w.running = false;
}

bool line_writer_push(int fd, std::string_view text) {
  Writer& w = writer();
  bool notify = false;
  {
    std::lock_guard lock(w.mu);
    if (!w.running || w.stopping) return false;
    if (w.queued_bytes + text.size() > kLineWriterBudgetBytes) {
      w.dropped.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    w.queued_bytes += text.size();
    w.queue.push_back(Pending{fd, std::string(text)});
    ++w.pushed;
    notify = w.idle;
    w.idle = false;
  }
  if (notify) w.wake.notify_one();
  return true;
}

void line_writer_flush() {
  Writer& w = writer();
  std::unique_lock lock(w.mu);
  if (!w.running) return;
  const std::uint64_t target = w.pushed;
  if (w.idle) {
    w.idle = false;
    w.wake.notify_one();
  }
  w.drained.wait(lock, [&] { return w.written >= target || !w.running; });
}

std::uint64_t line_writer_dropped() {
  return writer().dropped.load(std::memory_order_relaxed);
}

}  // namespace wghub::ctl
