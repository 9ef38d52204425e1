// A small etcd v3 client over etcd's JSON gateway (docs/ha.md explains the
// choice): libcurl does HTTP and TLS, nlohmann-json the bodies, libsodium
// the base64 of keys and values. What the hub needs and nothing more: read a
// prefix, watch it, and write it in transactions (`wghub store push`).
//
// One client is used by one thread at a time. Calls try the endpoints in
// order, starting with the last one that answered, so a cluster keeps
// working while one member is down. With a user, the client authenticates
// (/v3/auth/authenticate) and sends the token; a token etcd no longer
// accepts is renewed once per call. Errors are values with a message that
// names the endpoint.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "config/store_peers.hpp"

struct curl_slist;

namespace wghub::ctl {

struct EtcdOptions {
  std::vector<std::string> endpoints;
  std::string ca_file, cert_file, key_file;
  std::string user, password;
  std::chrono::milliseconds timeout{2000};  // a unary call, and connecting
};

struct WatchEvent {
  bool deleted = false;
  std::string key;
  std::string value;  // empty for a delete
};

struct WatchBatch {
  std::int64_t revision = 0;  // the store's revision after these events
  std::vector<WatchEvent> events;
};

class EtcdClient {
 public:
  // The options from a config's store section; reads password_file. Null
  // with a message when the file cannot be read.
  static std::unique_ptr<EtcdClient> from_config(const config::Store& store, std::string& error);
  explicit EtcdClient(EtcdOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // Every key under prefix, sorted, at one revision.
  bool range_prefix(const std::string& prefix, config::StoreSnapshot& out, std::string& error);

  // Puts (value set) and deletes (nullopt) in one transaction each batch of
  // at most 128 (etcd's default --max-txn-ops).
  struct Op {
    std::string key;
    std::optional<std::string> value;
  };
  bool write(const std::vector<Op>& ops, std::string& error);

  // Streams the changes under prefix from start_revision, calling on_batch
  // per response that carries events, until `stop` is set (returns true) or
  // the stream fails (false and a message; "compacted" when start_revision
  // is older than etcd keeps: read the prefix again). A quiet stream says
  // nothing about etcd, so every `probe_every` a one-key read checks that
  // the member still answers (on_alive after each that does); one that
  // does not ends the watch: a hung member or a partition that drops
  // packets is noticed in seconds, not at the next change.
  bool watch_prefix(const std::string& prefix, std::int64_t start_revision,
                    const std::function<void(const WatchBatch&)>& on_batch,
                    const std::atomic<bool>& stop, std::string& error,
                    const std::function<void()>& on_alive = {},
                    std::chrono::milliseconds probe_every = std::chrono::seconds(5));

  // The same on one key (the leader key): its PUTs and DELETEs. A stop set
  // from on_batch ends the stream at once (a standby campaigns on DELETE).
  bool watch_key(const std::string& key, std::int64_t start_revision,
                 const std::function<void(const WatchBatch&)>& on_batch,
                 const std::atomic<bool>& stop, std::string& error);

  // Leases and the leader key (control/election.hpp). A lease of `ttl`
  // seconds: its ID and the TTL etcd granted (it rounds up to its minimum).
  bool lease_grant(std::int64_t ttl, std::int64_t& id, std::int64_t& granted, std::string& error);
  // One keepalive: the TTL etcd reset the lease to; 0 when the lease is gone.
  bool lease_keepalive(std::int64_t id, std::int64_t& ttl, std::string& error);
  bool lease_revoke(std::int64_t id, std::string& error);
  struct Campaign {
    bool won = false;
    std::string holder;  // the key's value when not won
    std::int64_t holder_lease = 0;
    std::int64_t revision = 0;  // the store's revision of the answer
  };
  // One transaction: if `key` does not exist, create it = value attached to
  // `lease` (won); otherwise read who holds it.
  bool campaign(const std::string& key, const std::string& value, std::int64_t lease, Campaign& out,
                std::string& error);
  // The key's value and lease now (holder empty, lease 0: absent).
  bool read_key(const std::string& key, Campaign& out, std::string& error);

  // A unary call's limit (the election keeps it under its keepalive period).
  void set_timeout(std::chrono::milliseconds timeout) { options_.timeout = timeout; }

  // The endpoint that answered last.
  const std::string& endpoint() const { return options_.endpoints[current_]; }

 private:
  bool call(const std::string& path, const std::string& body, std::string& reply,
            std::string& error);
  bool post(const std::string& endpoint, const std::string& path, const std::string& body,
            std::string& reply, long& status, std::string& error);
  bool authenticate(const std::string& endpoint, std::string& error);
  // A watch of [key, range_end); range_end empty: the key alone.
  bool watch_range(const std::string& key, const std::string& range_end,
                   std::int64_t start_revision,
                   const std::function<void(const WatchBatch&)>& on_batch,
                   const std::atomic<bool>& stop, std::string& error,
                   const std::function<void()>& on_alive, std::chrono::milliseconds probe_every);
  void set_common(void* curl, const std::string& url) const;
  // set_common, then a JSON POST of `body` (not copied: it must outlive the
  // transfer) with the token; the header list is the caller's to free after
  // the transfer.
  curl_slist* set_json_post(void* curl, const std::string& url, const std::string& body) const;

  EtcdOptions options_;
  std::size_t current_ = 0;
  std::string token_;
  void* curl_ = nullptr;  // CURL*: unary calls reuse its connection
};

// The key just past every key that starts with prefix (etcd's range_end).
std::string prefix_end(const std::string& prefix);

}  // namespace wghub::ctl
