// See store_start.hpp.
#include "control/store_start.hpp"

#include <ctime>

#include "config/store_cache.hpp"
#include "control/etcd_client.hpp"
#include "control/log.hpp"

namespace wghub::ctl {

namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

}  // namespace

bool start_from_store(const std::string& path, const config::DesiredState& file_state,
                      StoreStart& out) {
  const config::Store& store = file_state.store;
  std::string error;
  auto client = EtcdClient::from_config(store, error);
  if (!client) {
    log_error("%s: %s; nothing started", path.c_str(), error.c_str());
    return false;
  }
  auto snapshot = std::make_shared<config::StoreSnapshot>();
  if (client->range_prefix(store.prefix, *snapshot, error)) {
    log_info("store: %zu key(s) under %s from etcd at %s, revision %lld", snapshot->entries.size(),
             store.prefix.c_str(), client->endpoint().c_str(),
             static_cast<long long>(snapshot->revision));
    std::string cache_error;
    if (!config::write_store_cache(store.cache_file, store.prefix, *snapshot, cache_error))
      log_warn("store: cannot cache the store state: %s", cache_error.c_str());
  } else {
    std::string cache_error;
    auto cache = config::read_store_cache(store.cache_file, store.prefix, cache_error);
    if (!cache) {
      log_error(
          "store: etcd unreachable at %s (%s), and %s; nothing started. Start etcd (or give the "
          "hub a reachable endpoint), or remove the store: section to run from the file's peers",
          joined(store.endpoints).c_str(), error.c_str(), cache_error.c_str());
      return false;
    }
    char when[32] = "?";
    const std::time_t t = static_cast<std::time_t>(cache->written);
    std::tm tm{};
    if (gmtime_r(&t, &tm) != nullptr) std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    log_warn(
        "store: etcd unreachable at %s (%s); RUNNING FROM THE CACHED STORE STATE %s (revision "
        "%lld, written %s, %zu key(s)); the hub resyncs with etcd when it answers",
        joined(store.endpoints).c_str(), error.c_str(), store.cache_file.c_str(),
        static_cast<long long>(cache->snapshot.revision), when, cache->snapshot.entries.size());
    *snapshot = std::move(cache->snapshot);
    out.from_cache = true;
  }
  config::LoadResult loaded = config::load_config_file(path, nullptr, snapshot.get());
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) log_error("%s", e.to_string().c_str());
    log_error("%zu error(s) in %s or the store's peers (revision %lld); nothing started",
              loaded.errors.size(), path.c_str(), static_cast<long long>(snapshot->revision));
    return false;
  }
  if (!file_state.peers.empty())
    log_info(
        "store: the %zu peer(s) of %s are not applied; the store's %zu are (wghub store push "
        "puts the file's peers in etcd)",
        file_state.peers.size(), path.c_str(), loaded.state->peers.size());
  out.state = loaded.state;
  out.snapshot = std::move(snapshot);
  return true;
}

}  // namespace wghub::ctl
