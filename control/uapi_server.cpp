// The wg(8) userspace API socket server (see uapi_server.hpp). Request text
// can hold private and preshared keys, so input buffers are wiped whenever
// bytes leave them or they grow, and nothing of a request is ever logged.
#include "control/uapi_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>

#include "control/log.hpp"
#include "crypto/secret.hpp"

namespace wghub::ctl::uapi {

namespace {

// Per poll() and client: bounds the time one busy client can take from the
// control thread; the rest waits for the next iteration.
constexpr std::size_t kReadBudget = 256 * 1024;
constexpr std::size_t kMinReadChunk = 16 * 1024;
constexpr int kMaxAcceptsPerPoll = 16;

// Growable byte buffer whose every byte is wiped before its memory is given
// back or reused, so no copy of a key outlives the request it came in.
class WipedBuffer {
 public:
  WipedBuffer() = default;
  ~WipedBuffer() { release(); }
  WipedBuffer(const WipedBuffer&) = delete;
  WipedBuffer& operator=(const WipedBuffer&) = delete;

  std::string_view view() const { return {data_.get(), size_}; }
  std::size_t size() const { return size_; }

  // Room for at least `n` more bytes at tail().
  void reserve_tail(std::size_t n) {
    if (capacity_ - size_ >= n) return;
    const std::size_t cap = std::max({capacity_ * 2, size_ + n, kMinReadChunk});
    auto bigger = std::make_unique<char[]>(cap);
    const std::size_t size = size_;
    if (size != 0) std::memcpy(bigger.get(), data_.get(), size);
    release();
    data_ = std::move(bigger);
    capacity_ = cap;
    size_ = size;
  }
  char* tail() { return data_.get() + size_; }
  std::size_t tail_room() const { return capacity_ - size_; }
  void grew(std::size_t n) { size_ += n; }

  // Drops the first n bytes; what moves down is wiped where it was.
  void consume(std::size_t n) {
    n = std::min(n, size_);
    std::memmove(data_.get(), data_.get() + n, size_ - n);
    crypto::wipe(data_.get() + size_ - n, n);
    size_ -= n;
  }
  void clear() { consume(size_); }

 private:
  void release() {
    if (data_) crypto::wipe(data_.get(), capacity_);
    data_.reset();
    capacity_ = 0;
    size_ = 0;
  }

  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
};

bool valid_interface_name(const std::string& name) {
  // IFNAMSIZ - 1 and wg-quick's character set; also keeps '/' and ".." out
  // of the path we build from it.
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '=' || c == '+' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string errno_text(int err) {
  return std::strerror(err);
}

// mkdir -p with mode 0755 for what it creates (wireguard-go MkdirAll 0755).
bool make_dirs(const std::string& dir, std::string& error) {
  if (dir.empty()) {
    error = "empty socket directory";
    return false;
  }
  for (std::size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0755) == 0) {
      ::chmod(part.c_str(), 0755);  // the umask may have taken bits away
      continue;
    }
    if (errno != EEXIST) {
      error = "cannot create " + part + ": " + errno_text(errno);
      return false;
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    error = dir + " is not a directory";
    return false;
  }
  return true;
}

bool fill_address(const std::string& path, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

enum class Probe { live, stale, error };

// Is anyone answering on the socket at `path`? A non-blocking connect tells
// without waiting: 0 = someone accepted, EAGAIN = someone listens but its
// backlog is full (still live), ECONNREFUSED = nobody listens.
Probe probe_socket(const sockaddr_un& addr, int& err) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno;
    return Probe::error;
  }
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  err = rc == 0 ? 0 : errno;
  ::close(fd);
  if (rc == 0 || err == EAGAIN || err == EINPROGRESS) return Probe::live;
  if (err == ECONNREFUSED || err == ENOENT) return Probe::stale;
  return Probe::error;
}

}  // namespace

struct Server::Client {
  int fd = -1;
  WipedBuffer in;
  std::size_t scan_from = 0;  // frame_request's resume point in `in`
  std::string out;            // a reply; never holds a secret
  std::size_t out_sent = 0;
  // A get under way: its next slice goes out once `out` is sent.
  std::optional<GetCursor> get;
  bool eof = false;                // the client will send no more
  bool close_after_write = false;  // an error reply: close once it is out
  bool dead = false;
  std::uint64_t last_active = 0;
};

Server::Server(Options options, Backend& backend)
    : options_(std::move(options)), backend_(backend) {}

Server::~Server() {
  stop();
}

std::unique_ptr<Server> Server::start(const Options& options, Backend& backend,
                                      std::string& error) {
  std::unique_ptr<Server> server(new Server(options, backend));
  if (!server->open(error)) return nullptr;
  return server;
}

bool Server::open(std::string& error) {
  if (!valid_interface_name(options_.interface_name)) {
    error = "invalid interface name '" + options_.interface_name +
            "' for the wg(8) socket: 1 to 15 of A-Z a-z 0-9 _ = + . -";
    return false;
  }
  if (options_.max_clients == 0 || options_.max_request_bytes == 0) {
    error = "wg(8) socket: max_clients and max_request_bytes must be positive";
    return false;
  }
  path_ = options_.socket_dir + "/" + options_.interface_name + ".sock";
  sockaddr_un addr{};
  if (!fill_address(path_, addr)) {
    error = "wg(8) socket path " + path_ + " is too long for a unix socket";
    return false;
  }
  if (!make_dirs(options_.socket_dir, error)) {
    error = "wg(8) socket: " + error;
    return false;
  }

  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = path_ + " exists and is not a socket; not touching it (remove it if it is stale)";
      return false;
    }
    int err = 0;
    switch (probe_socket(addr, err)) {
      case Probe::live:
        error = "another process is serving the wg(8) socket " + path_ +
                " (is another wghub or wireguard-go running as interface " +
                options_.interface_name + "?); refusing to take it over";
        return false;
      case Probe::error:
        error = "cannot check whether " + path_ + " is in use: " + errno_text(err);
        return false;
      case Probe::stale:
        // Left behind by a process that died without cleaning up.
        if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
          error = "cannot remove the stale socket " + path_ + ": " + errno_text(errno);
          return false;
        }
        log_info("uapi: replaced the stale socket %s", path_.c_str());
        break;
    }
  }

  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    error = "wg(8) socket: " + errno_text(errno);
    return false;
  }
  // bind creates the file with 0777 & ~umask; a tight umask for the call
  // means it is never, even briefly, connectable by others (wireguard-go
  // does the same). umask is process-wide, but the hub sets this up before
  // any thread that creates files runs.
  const mode_t old_umask = ::umask(0077);
  const int bound = ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  ::umask(old_umask);
  if (bound != 0) {
    error = "cannot bind the wg(8) socket " + path_ + ": " + errno_text(bind_errno) +
            (bind_errno == EADDRINUSE ? " (another process created it just now)" : "");
    ::close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  if (::chmod(path_.c_str(), 0600) != 0 || ::listen(listen_fd_, SOMAXCONN) != 0 ||
      ::stat(path_.c_str(), &st) != 0) {
    error = "cannot set up the wg(8) socket " + path_ + ": " + errno_text(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    ::unlink(path_.c_str());
    return false;
  }
  socket_dev_ = st.st_dev;
  socket_ino_ = st.st_ino;
  log_info("uapi: wg(8) socket at %s", path_.c_str());
  return true;
}

void Server::stop() {
  for (auto& c : clients_) close_client(*c);
  clients_.clear();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    if (socket_still_ours()) ::unlink(path_.c_str());
  }
}

bool Server::socket_still_ours() const {
  struct stat st {};
  if (::lstat(path_.c_str(), &st) != 0) return false;
  return S_ISSOCK(st.st_mode) && st.st_dev == socket_dev_ && st.st_ino == socket_ino_;
}

void Server::poll() {
  if (listen_fd_ < 0) return;
  ++tick_;
  std::vector<pollfd>& fds = fds_;
  fds.clear();
  fds.push_back(pollfd{listen_fd_, POLLIN, 0});
  // A get under way whose last slice is out: its next slice.
  for (const auto& c : clients_)
    if (c->get && c->out.empty()) continue_get(*c);
  for (const auto& c : clients_) {
    // Back-pressure: while a reply is going out, the next request waits in
    // the socket, so a client that does not read cannot make us buffer more.
    const short events = c->out.empty() ? POLLIN : POLLOUT;
    fds.push_back(pollfd{c->fd, events, 0});
  }
  const int ready = ::poll(fds.data(), fds.size(), 0);
  if (ready <= 0) return;  // nothing, or EINTR: next iteration

  // Clients first (their indices match fds), then new ones.
  for (std::size_t i = 0; i < clients_.size(); ++i) {
    if (fds[i + 1].revents != 0) service(*clients_[i], fds[i + 1].revents);
  }
  std::erase_if(clients_, [](const std::unique_ptr<Client>& c) { return c->dead; });
  if (fds[0].revents & POLLIN) accept_clients();
}

void Server::accept_clients() {
  for (int n = 0; n < kMaxAcceptsPerPoll; ++n) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: none left; anything else: try next poll
    if (clients_.size() >= options_.max_clients) {
      auto oldest = std::min_element(
          clients_.begin(), clients_.end(),
          [](const auto& a, const auto& b) { return a->last_active < b->last_active; });
      log_warn("uapi: %zu connections open; closing the least recently active one",
               clients_.size());
      close_client(**oldest);
      clients_.erase(oldest);
    }
    auto c = std::make_unique<Client>();
    c->fd = fd;
    c->last_active = tick_;
    clients_.push_back(std::move(c));
    // Serve at once: wg(8) has usually sent its request already.
    service(*clients_.back(), POLLIN);
    if (clients_.back()->dead) clients_.pop_back();
  }
}

void Server::service(Client& c, short revents) {
  if (revents & POLLNVAL) {
    close_client(c);
    return;
  }
  if (!c.out.empty() && !flush(c)) return;
  if (c.out.empty() && (revents & (POLLIN | POLLHUP | POLLERR))) read_from(c);
  if (!c.dead) answer_requests(c);
}

void Server::read_from(Client& c) {
  // Never read further than one byte past the limit: that is enough to
  // know the request is too big.
  const std::size_t cap = options_.max_request_bytes + 1;
  std::size_t budget = kReadBudget;
  while (budget > 0 && c.in.size() < cap && !c.eof) {
    c.in.reserve_tail(std::min(kMinReadChunk, cap - c.in.size()));
    const std::size_t want = std::min({c.in.tail_room(), budget, cap - c.in.size()});
    const ssize_t n = ::recv(c.fd, c.in.tail(), want, MSG_DONTWAIT);
    if (n > 0) {
      c.in.grew(static_cast<std::size_t>(n));
      budget -= static_cast<std::size_t>(n);
      c.last_active = tick_;
    } else if (n == 0) {
      c.eof = true;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else {
      close_client(c);
      return;
    }
  }
}

void Server::answer_requests(Client& c) {
  // One reply at a time, requests in order (wireguard-go serves a
  // connection's requests one after another, too).
  while (!c.dead && c.out.empty()) {
    if (c.get) return;  // one slice of a get per poll: poll() writes the next
    if (c.close_after_write) {
      close_client(c);
      return;
    }
    const Frame frame = frame_request(c.in.view(), c.scan_from);
    switch (frame.kind) {
      case FrameKind::incomplete:
        if (c.in.size() > options_.max_request_bytes) {
          log_warn("uapi: request over %zu bytes; closing the connection",
                   options_.max_request_bytes);
          c.in.clear();
          c.out = format_errno(EMSGSIZE);
          c.close_after_write = true;
          break;
        }
        // A client that stopped sending mid-request gets nothing back.
        if (c.eof) close_client(c);
        return;
      case FrameKind::malformed:
        log_warn("uapi: malformed request; replying EINVAL and closing the connection");
        c.in.clear();
        c.out = format_errno(EINVAL);
        c.close_after_write = true;
        break;
      case FrameKind::get:
      case FrameKind::set:
        if (frame.length > options_.max_request_bytes) {
          log_warn("uapi: request over %zu bytes; closing the connection",
                   options_.max_request_bytes);
          c.in.clear();
          c.out = format_errno(EMSGSIZE);
          c.close_after_write = true;
        } else if (frame.kind == FrameKind::get) {
          c.in.consume(frame.length);
          answer_get(c);
        } else {
          answer_set(c, frame);
        }
        break;
    }
    c.out_sent = 0;
    if (!flush(c)) return;
  }
}

void Server::answer_get(Client& c) {
  c.get = GetCursor{};
  continue_get(c);
}

void Server::continue_get(Client& c) {
  try {
    DeviceStatus part;
    const bool first = !c.get->started;
    const bool done = backend_.get_slice(*c.get, options_.get_slice_peers, part);
    if (first) append_get_device(part, c.out);
    append_get_peers(part.peers, c.out);
    if (!done) return;
    c.out.append(format_errno(0));
  } catch (const std::exception&) {
    // Exceptions stay out of the control loop (DESIGN.md). Part of the
    // reply may be out: the errno line ends it, and the connection.
    c.out.append(format_errno(ENOMEM));
    c.close_after_write = true;
  }
  c.get.reset();
}

void Server::answer_set(Client& c, const Frame& frame) {
  SetRequest request;
  const auto err = parse_set(frame.body, request);
  c.in.consume(frame.length);  // wipes the request text
  if (err) {
    // The message names the line and a known key only (uapi.hpp).
    log_warn("uapi: invalid set request (%s); closing the connection", err->message.c_str());
    c.in.clear();
    c.out = format_errno(err->error);
    c.close_after_write = true;
    return;
  }
  int rc = 0;
  try {
    rc = backend_.set(request);
  } catch (const std::exception&) {
    rc = ENOMEM;
  }
  c.out = format_errno(rc);
}

// Writes what the socket takes. True when the reply is fully out.
bool Server::flush(Client& c) {
  while (c.out_sent < c.out.size()) {
    // MSG_NOSIGNAL: a client that hung up must not SIGPIPE the hub.
    const ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      c.out_sent += static_cast<std::size_t>(n);
      c.last_active = tick_;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return false;
    } else {
      close_client(c);
      return false;
    }
  }
  c.out.clear();
  c.out_sent = 0;
  if (c.close_after_write) {
    close_client(c);
    return false;
  }
  return true;
}

void Server::close_client(Client& c) {
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  c.in.clear();
  c.dead = true;
}

}  // namespace wghub::ctl::uapi
