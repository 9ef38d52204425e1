// See cli_store.hpp. Both subcommands compare the file's peers, as the
// values `store push` writes (config/store_peers.hpp), with the keys under
// the store's prefix: a key is added, changed (its value differs) or
// deleted. `push` writes exactly those, in transactions, so every hub
// applies a push as one change per transaction of 128 keys.
#include "control/cli_store.hpp"

#include <getopt.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "config/diff.hpp"
#include "config/loader.hpp"
#include "control/election.hpp"
#include "control/etcd_client.hpp"

namespace wghub::ctl {

namespace {

void usage(FILE* to) {
  std::fprintf(to,
               "usage: wghub store push -c CONFIG [--dry-run]\n"
               "       wghub store diff -c CONFIG\n"
               "\n"
               "push: make the keys under CONFIG's store.prefix hold exactly CONFIG's peers\n"
               "      (inline and peers_dir): puts new and changed ones, deletes the others;\n"
               "      with store.election, also the published endpoints of peers that are gone.\n"
               "diff: show what push would change; exit 0 when nothing, 1 when something.\n"
               "Lines: '+ KEY' added, '~ KEY: FIELDS' changed, '- KEY' deleted.\n");
}

struct Plan {
  std::vector<EtcdClient::Op> ops;
  std::vector<std::string> lines;
  std::size_t unchanged = 0;
};

// Which fields differ between the store's peer at `key` and the file's
// (empty when the store's state did not load: the value text differs).
std::string changed_fields(const config::DesiredState* store_state,
                           const config::DesiredState& file_state, const std::string& key,
                           const config::Store& store) {
  if (store_state == nullptr) return "value";
  const std::string name = key.substr(store.prefix.size());
  const config::Peer* a = store_state->find_peer(name);
  const config::Peer* b = file_state.find_peer(name);
  if (a == nullptr || b == nullptr) return "value";
  if (a->public_key != b->public_key) return "public_key";
  config::DesiredState one, two;
  one.peers = {*a};
  two.peers = {*b};
  one.index_peers();
  two.index_peers();
  const config::StateDiff d = config::diff(one, two);
  std::string out;
  for (const auto& c : d.changed)
    for (const auto& f : c.fields) out += (out.empty() ? "" : ", ") + f;
  return out.empty() ? "value (the same peer, written differently)" : out;
}

Plan plan(const std::string& path, const config::DesiredState& file_state,
          const config::StoreSnapshot& current) {
  const config::Store& store = file_state.store;
  const config::StoreSnapshot want = config::snapshot_of(store, file_state.peers);
  // The store's peers as the hub would load them, for field names.
  const config::LoadResult store_loaded = config::load_config_file(path, nullptr, &current);
  const config::DesiredState* store_state = store_loaded.ok() ? store_loaded.state.get() : nullptr;
  std::map<std::string, const std::string*> have;
  for (const auto& e : current.entries) have.emplace(e.key, &e.value);
  Plan p;
  for (const auto& e : want.entries) {
    const auto it = have.find(e.key);
    if (it == have.end()) {
      p.lines.push_back("+ " + e.key);
      p.ops.push_back({e.key, e.value});
    } else {
      if (*it->second != e.value) {
        p.lines.push_back("~ " + e.key + ": " +
                          changed_fields(store_state, file_state, e.key, store));
        p.ops.push_back({e.key, e.value});
      } else {
        ++p.unchanged;
      }
      have.erase(it);
    }
  }
  for (const auto& [key, value] : have) {
    p.lines.push_back("- " + key);
    p.ops.push_back({key, std::nullopt});
  }
  return p;
}

// The config loaded, etcd read and the plan made: what push and diff share.
struct Prepared {
  config::LoadResult loaded;
  std::unique_ptr<EtcdClient> client;
  config::StoreSnapshot current;
  Plan plan;
};

// False with `error` (one or more lines) when the file has errors, has no
// store or etcd cannot be read.
bool prepare(const std::string& config_path, Prepared& out, std::string& error) {
  out.loaded = config::load_config_file(config_path);
  if (!out.loaded.ok()) {
    error = out.loaded.error_text() + std::to_string(out.loaded.errors.size()) + " error(s) in " +
            config_path + "; nothing done";
    return false;
  }
  const config::DesiredState& s = *out.loaded.state;
  if (!s.store.enabled()) {
    error = config_path + " has no store: section (docs/config.md#store)";
    return false;
  }
  out.client = EtcdClient::from_config(s.store, error);
  if (!out.client || !out.client->range_prefix(s.store.prefix, out.current, error)) return false;
  out.plan = plan(config_path, s, out.current);
  // A pair's active hub publishes each peer's endpoint (docs/ha.md); the
  // keys of peers that are gone go with them.
  if (s.store.election) {
    const std::string prefix = Election::endpoints_prefix_for(s.store.leader_key);
    config::StoreSnapshot endpoints;
    if (!out.client->range_prefix(prefix, endpoints, error)) return false;
    for (const auto& e : endpoints.entries) {
      if (s.find_peer(e.key.substr(prefix.size())) != nullptr) continue;
      out.plan.lines.push_back("- " + e.key + " (the endpoint of a peer that is gone)");
      out.plan.ops.push_back({e.key, std::nullopt});
    }
  }
  return true;
}

}  // namespace

bool push_to_store(const std::string& config_path, std::string& summary, std::string& error) {
  Prepared p;
  if (!prepare(config_path, p, error)) return false;
  if (!p.client->write(p.plan.ops, error)) return false;
  summary = std::to_string(p.plan.ops.size()) + " key(s) written or deleted under " +
            p.loaded.state->store.prefix + " at " + p.client->endpoint();
  return true;
}

int run_store(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string verb = argv[1];
  if (verb != "push" && verb != "diff") {
    std::fprintf(stderr, "wghub store: unknown subcommand '%s'\n", verb.c_str());
    usage(stderr);
    return 2;
  }
  enum { kDryRun = 1000 };
  static const option long_options[] = {
      {"config", required_argument, nullptr, 'c'},
      {"dry-run", no_argument, nullptr, kDryRun},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  std::string config_path;
  bool dry_run = verb == "diff";
  optind = 0;
  int c;
  while ((c = getopt_long(argc - 1, argv + 1, "c:h", long_options, nullptr)) != -1) {
    switch (c) {
      case 'c':
        config_path = optarg;
        break;
      case kDryRun:
        dry_run = true;
        break;
      case 'h':
        usage(stdout);
        return 0;
      default:
        usage(stderr);
        return 2;
    }
  }
  if (config_path.empty() || optind != argc - 1) {
    std::fprintf(stderr, "wghub store %s: -c CONFIG is required (and nothing else)\n",
                 verb.c_str());
    return 2;
  }
  Prepared prepared;
  std::string error;
  if (!prepare(config_path, prepared, error)) {
    std::fprintf(stderr, "wghub store %s: %s\n", verb.c_str(), error.c_str());
    return 1;
  }
  const config::DesiredState& s = *prepared.loaded.state;
  auto& client = prepared.client;
  const config::StoreSnapshot& current = prepared.current;
  const Plan& p = prepared.plan;
  for (const auto& line : p.lines) std::printf("%s\n", line.c_str());
  if (dry_run) {
    std::printf("%s: %zu key(s) differ, %zu the same (etcd revision %lld, prefix %s)\n",
                verb == "diff" ? "diff" : "push --dry-run", p.ops.size(), p.unchanged,
                static_cast<long long>(current.revision), s.store.prefix.c_str());
    return verb == "diff" && !p.ops.empty() ? 1 : 0;
  }
  if (!client->write(p.ops, error)) {
    std::fprintf(stderr, "wghub store push: %s\n", error.c_str());
    return 1;
  }
  std::printf("push: %zu key(s) written or deleted, %zu unchanged (prefix %s at %s)\n",
              p.ops.size(), p.unchanged, s.store.prefix.c_str(), client->endpoint().c_str());
  return 0;
}

}  // namespace wghub::ctl
