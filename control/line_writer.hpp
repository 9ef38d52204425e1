// The hub's log and audit lines, written by a thread of their own once the
// hub runs: the control thread formats a line and queues it; it never waits
// for the reader of stdout (journald, a pipe) or for the disk. A write is a
// syscall (~3,000 cycles on the 2-vCPU test VM), and a handshake made two
// lines (the log's "handshake completed" and the audit record): ~2 % of a
// responder handshake. A slow or stuck reader once blocked the thread that
// answers handshakes; now the queue holds up to kBudgetBytes and past that
// lines are dropped and counted (wghub_log_lines_dropped_total), and the
// count is logged when lines flow again.
//
// Outside line_writer_start() .. line_writer_stop() (the hub's start and
// stop, every other program: --check-config, wghub site, the tests) lines
// are written where they are made, as before.
// Each fd's lines go out in the order they were queued, whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wghub::ctl {

// 64 MiB: a status dump (SIGUSR1) of 10^5 peers is ~12 MB.
inline constexpr std::size_t kLineWriterBudgetBytes = std::size_t{64} << 20;

// Starts the writer thread (stdio's buffers are flushed first). Idempotent.
void line_writer_start();
// Writes what is queued and stops the thread; later lines are written
// where they are made again.
void line_writer_stop();
// Queues `text` (whole lines) for `fd`: true when the writer runs (the line
// is queued or, over the budget, dropped and counted); false when it does
// not, and the caller writes it itself.
bool line_writer_push(int fd, std::string_view text);
// Waits until every line queued so far is written (before an fd that lines
// are queued for is closed).
void line_writer_flush();
// Lines dropped over the budget since the start of the process.
std::uint64_t line_writer_dropped();

}  // namespace wghub::ctl
