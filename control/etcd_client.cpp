// See etcd_client.hpp. The gateway's JSON: keys and values are base64,
// 64-bit integers are strings, and fields at their default value are left
// out (a PUT event has no "type", an empty value no "value").
#include "control/etcd_client.hpp"

#include <curl/curl.h>
#include <sodium.h>

#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

namespace wghub::ctl {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxTxnOps = 128;  // etcd's default --max-txn-ops

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string b64(const std::string& bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::string> unb64(const json& field) {
  if (field.is_null()) return std::string();
  if (!field.is_string()) return std::nullopt;
  const std::string& text = field.get_ref<const std::string&>();
  std::string out(text.size() / 4 * 3 + 3, '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return std::nullopt;
  out.resize(len);
  return out;
}

// An int64 the gateway wrote as a string ("42"), or absent (0).
std::int64_t int64_of(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key)) return 0;
  const json& v = obj[key];
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) {
    try {
      return std::stoll(v.get<std::string>());
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

std::size_t append_body(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// An error reply's message: {"error": "...", "code": N, "message": "..."},
// or the body itself when it is text.
std::string error_of(const std::string& reply, long status) {
  const json j = json::parse(reply, nullptr, false);
  if (j.is_object()) {
    if (j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
    if (j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  }
  std::string text = reply.substr(0, 200);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty() || !j.is_discarded()) return "HTTP " + std::to_string(status);
  // etcd >= 3.4.10 (CVE-2020-15136) refuses gateway requests whose client
  // certificate has a Common Name.
  if (text.find("CommonName") != std::string::npos)
    text +=
        " (etcd's JSON gateway refuses client certificates with a Common Name: use one "
        "with subjectAltName only, and store.user for authentication)";
  return "HTTP " + std::to_string(status) + ": " + text;
}

bool auth_failure(const std::string& message) {
  return message.find("auth token") != std::string::npos ||
         message.find("user name is empty") != std::string::npos;
}

}  // namespace

std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

std::unique_ptr<EtcdClient> EtcdClient::from_config(const config::Store& store,
                                                    std::string& error) {
  EtcdOptions o;
  o.endpoints = store.endpoints;
  o.ca_file = store.ca_file;
  o.cert_file = store.cert_file;
  o.key_file = store.key_file;
  o.user = store.user;
  if (!store.password_file.empty()) {
    std::ifstream in(store.password_file);
    if (!in || !std::getline(in, o.password)) {
      error = "store.password_file: cannot read " + store.password_file;
      return nullptr;
    }
  }
  if (o.endpoints.empty()) {
    error = "store.endpoints: no etcd endpoint";
    return nullptr;
  }
  return std::make_unique<EtcdClient>(std::move(o));
}

EtcdClient::EtcdClient(EtcdOptions options) : options_(std::move(options)) {
  global_init();
  curl_ = curl_easy_init();
}

EtcdClient::~EtcdClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

void EtcdClient::set_common(void* handle, const std::string& url) const {
  CURL* c = static_cast<CURL*>(handle);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  // A peer that vanishes without a FIN (a partition) ends the stream too.
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 2L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 1L);
  if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.cert_file.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, options_.cert_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, options_.key_file.c_str());
  }
}

curl_slist* EtcdClient::set_json_post(void* handle, const std::string& url,
                                      const std::string& body) const {
  CURL* c = static_cast<CURL*>(handle);
  set_common(c, url);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  if (!token_.empty())
    headers = curl_slist_append(headers, ("Authorization: " + token_).c_str());  // copied
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  return headers;
}

bool EtcdClient::post(const std::string& endpoint, const std::string& path, const std::string& body,
                      std::string& reply, long& status, std::string& error) {
  CURL* c = static_cast<CURL*>(curl_);
  if (c == nullptr) {
    error = "libcurl could not start";
    return false;
  }
  curl_easy_reset(c);
  curl_slist* headers = set_json_post(c, endpoint + path, body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  reply.clear();
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    error = endpoint + ": " + curl_easy_strerror(rc);
    return false;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return true;
}

bool EtcdClient::authenticate(const std::string& endpoint, std::string& error) {
  token_.clear();
  const std::string body = json{{"name", options_.user}, {"password", options_.password}}.dump();
  std::string reply;
  long status = 0;
  if (!post(endpoint, "/v3/auth/authenticate", body, reply, status, error)) return false;
  const json j = json::parse(reply, nullptr, false);
  if (status != 200 || !j.is_object() || !j.contains("token") || !j["token"].is_string()) {
    error =
        endpoint + ": authentication as '" + options_.user + "' failed: " + error_of(reply, status);
    return false;
  }
  token_ = j["token"].get<std::string>();
  return true;
}

bool EtcdClient::call(const std::string& path, const std::string& body, std::string& reply,
                      std::string& error) {
  std::string errors;
  for (std::size_t tried = 0; tried < options_.endpoints.size(); ++tried) {
    const std::size_t i = (current_ + tried) % options_.endpoints.size();
    const std::string& endpoint = options_.endpoints[i];
    std::string why;
    long status = 0;
    bool sent = true;
    if (!options_.user.empty() && token_.empty()) sent = authenticate(endpoint, why);
    if (sent) sent = post(endpoint, path, body, reply, status, why);
    if (sent && status != 200 && !options_.user.empty() && auth_failure(error_of(reply, status))) {
      sent = authenticate(endpoint, why) && post(endpoint, path, body, reply, status, why);
    }
    if (sent && status == 200) {
      current_ = i;
      return true;
    }
    if (sent && status < 500) {
      // etcd answered and refused: another member would say the same.
      error = endpoint + path + ": " + error_of(reply, status);
      return false;
    }
    // Unreachable, or this member cannot serve now (no leader, shutting
    // down: 5xx): the next member may.
    if (sent) why = endpoint + path + ": " + error_of(reply, status);
    errors += (errors.empty() ? "" : "; ") + why;
  }
  error = errors;
  return false;
}

bool EtcdClient::range_prefix(const std::string& prefix, config::StoreSnapshot& out,
                              std::string& error) {
  const std::string body =
      json{{"key", b64(prefix)}, {"range_end", b64(prefix_end(prefix))}}.dump();
  std::string reply;
  if (!call("/v3/kv/range", body, reply, error)) return false;
  const json j = json::parse(reply, nullptr, false);
  if (!j.is_object() || !j.contains("header")) {
    error = endpoint() + "/v3/kv/range: not an etcd reply";
    return false;
  }
  out = config::StoreSnapshot{};
  out.revision = int64_of(j["header"], "revision");
  if (j.contains("kvs") && j["kvs"].is_array()) {
    for (const json& kv : j["kvs"]) {
      auto key = unb64(kv.value("key", json()));
      auto value = unb64(kv.contains("value") ? kv["value"] : json());
      if (!key || !value) {
        error = endpoint() + "/v3/kv/range: a key or value is not base64";
        return false;
      }
      out.entries.push_back(config::StoreEntry{std::move(*key), std::move(*value)});
    }
  }
  // etcd returns keys sorted by key bytes already; the snapshot relies on it.
  return true;
}

bool EtcdClient::write(const std::vector<Op>& ops, std::string& error) {
  for (std::size_t start = 0; start < ops.size(); start += kMaxTxnOps) {
    json success = json::array();
    for (std::size_t i = start; i < std::min(ops.size(), start + kMaxTxnOps); ++i) {
      const Op& op = ops[i];
      if (op.value)
        success.push_back({{"request_put", {{"key", b64(op.key)}, {"value", b64(*op.value)}}}});
      else
        success.push_back({{"request_delete_range", {{"key", b64(op.key)}}}});
    }
    std::string reply;
    if (!call("/v3/kv/txn", json{{"success", std::move(success)}}.dump(), reply, error))
      return false;
  }
  return true;
}

namespace {

struct WatchStream {
  std::string buffer;
  std::function<bool(std::string&)> probe;  // true while the member answers
  std::chrono::steady_clock::time_point next_probe;
  std::chrono::milliseconds probe_every{0};
  const std::function<void(const WatchBatch&)>* on_batch = nullptr;
  const std::atomic<bool>* stop = nullptr;
  std::string failure;  // set by the stream's own messages (compacted, canceled, error)
  bool created = false;
};

// One message of the stream: {"result": {...}} or {"error": {...}}.
bool on_message(WatchStream& w, const std::string& line) {
  const json j = json::parse(line, nullptr, false);
  if (!j.is_object()) {
    w.failure = "a watch message is not JSON";
    return false;
  }
  if (j.contains("error")) {
    const json& e = j["error"];
    w.failure = e.is_object() ? e.value("message", std::string("watch error")) : "watch error";
    return false;
  }
  const json& r = j.contains("result") ? j["result"] : j;
  if (int64_of(r, "compact_revision") != 0) {
    w.failure = "compacted";
    return false;
  }
  if (r.value("canceled", false)) {
    w.failure = "the watch was canceled: " + r.value("cancel_reason", std::string("no reason"));
    return false;
  }
  if (r.value("created", false)) w.created = true;
  if (!r.contains("events") || !r["events"].is_array() || r["events"].empty()) return true;
  WatchBatch batch;
  batch.revision = int64_of(r.value("header", json::object()), "revision");
  for (const json& ev : r["events"]) {
    WatchEvent e;
    e.deleted = ev.value("type", std::string("PUT")) == "DELETE";
    const json kv = ev.value("kv", json::object());
    auto key = unb64(kv.value("key", json()));
    auto value = unb64(kv.contains("value") ? kv["value"] : json());
    if (!key || !value) {
      w.failure = "a watch event's key or value is not base64";
      return false;
    }
    e.key = std::move(*key);
    if (!e.deleted) e.value = std::move(*value);
    batch.events.push_back(std::move(e));
  }
  (*w.on_batch)(batch);
  return !w.stop->load();  // on_batch may end the stream
}

std::size_t on_watch_bytes(char* data, std::size_t size, std::size_t n, void* user) {
  auto& w = *static_cast<WatchStream*>(user);
  w.buffer.append(data, size * n);
  // The gateway ends every message of a stream with a newline.
  std::size_t start = 0;
  for (std::size_t nl; (nl = w.buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (nl > start && !on_message(w, w.buffer.substr(start, nl - start))) return 0;  // abort
  }
  w.buffer.erase(0, start);
  return size * n;
}

// libcurl calls this about once a second while the stream is idle.
int on_watch_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& w = *static_cast<WatchStream*>(user);
  if (w.stop->load()) return 1;
  const auto now = std::chrono::steady_clock::now();
  if (w.probe && now >= w.next_probe) {
    w.next_probe = now + w.probe_every;
    std::string why;
    if (!w.probe(why)) {
      w.failure = "etcd does not answer a probe during the watch (" + why + ")";
      return 1;
    }
  }
  return 0;
}

}  // namespace

bool EtcdClient::watch_prefix(const std::string& prefix, std::int64_t start_revision,
                              const std::function<void(const WatchBatch&)>& on_batch,
                              const std::atomic<bool>& stop, std::string& error,
                              const std::function<void()>& on_alive,
                              std::chrono::milliseconds probe_every) {
  return watch_range(prefix, prefix_end(prefix), start_revision, on_batch, stop, error, on_alive,
                     probe_every);
}

bool EtcdClient::watch_key(const std::string& key, std::int64_t start_revision,
                           const std::function<void(const WatchBatch&)>& on_batch,
                           const std::atomic<bool>& stop, std::string& error) {
  return watch_range(key, "", start_revision, on_batch, stop, error, {}, std::chrono::seconds(2));
}

bool EtcdClient::watch_range(const std::string& key, const std::string& range_end,
                             std::int64_t start_revision,
                             const std::function<void(const WatchBatch&)>& on_batch,
                             const std::atomic<bool>& stop, std::string& error,
                             const std::function<void()>& on_alive,
                             std::chrono::milliseconds probe_every) {
  // Authenticate (and find a live member) with a unary call first.
  std::string reply;
  json probe_request = {{"key", b64(key)}, {"limit", 1}, {"keys_only", true}};
  json create = {{"key", b64(key)}, {"start_revision", std::to_string(start_revision)}};
  if (!range_end.empty()) {
    probe_request["range_end"] = b64(range_end);
    create["range_end"] = b64(range_end);
  }
  const std::string probe_body = probe_request.dump();
  if (!call("/v3/kv/range", probe_body, reply, error)) return false;

  CURL* c = curl_easy_init();
  if (c == nullptr) {
    error = "libcurl could not start";
    return false;
  }
  const std::string body = json{{"create_request", std::move(create)}}.dump();
  curl_slist* headers = set_json_post(c, endpoint() + "/v3/watch", body);
  WatchStream w;
  w.on_batch = &on_batch;
  w.stop = &stop;
  // The probe asks the member the stream is on (another easy handle: the
  // unary one), not whichever answers.
  const std::string member = endpoint();
  w.probe_every = probe_every;
  w.next_probe = std::chrono::steady_clock::now() + probe_every;
  w.probe = [&](std::string& why) {
    std::string reply;
    long status = 0;
    if (!post(member, "/v3/kv/range", probe_body, reply, status, why)) return false;
    if (status >= 500) {
      why = member + ": " + error_of(reply, status);
      return false;
    }
    if (on_alive) on_alive();
    return true;
  };
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_watch_bytes);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &w);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &w);
  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (stop.load()) return true;
  if (!w.failure.empty())
    error = w.failure;
  else if (rc != CURLE_OK)
    error = endpoint() + "/v3/watch: " + curl_easy_strerror(rc);
  else if (status != 200)
    error = endpoint() + "/v3/watch: " + error_of(w.buffer, status);
  else
    error = endpoint() + "/v3/watch: the stream ended";
  return false;
}

bool EtcdClient::lease_grant(std::int64_t ttl, std::int64_t& id, std::int64_t& granted,
                             std::string& error) {
  std::string reply;
  if (!call("/v3/lease/grant", json{{"TTL", std::to_string(ttl)}, {"ID", "0"}}.dump(), reply,
            error))
    return false;
  const json j = json::parse(reply, nullptr, false);
  id = int64_of(j, "ID");
  granted = int64_of(j, "TTL");
  if (id == 0 || granted <= 0) {
    error = endpoint() + "/v3/lease/grant: " +
            (j.is_object() && j.contains("error") ? error_of(reply, 200) : "no lease in the reply");
    return false;
  }
  return true;
}

bool EtcdClient::lease_keepalive(std::int64_t id, std::int64_t& ttl, std::string& error) {
  // A bidirectional stream in gRPC; over the gateway one request gives one
  // {"result": {"ID", "TTL"}} and the stream ends.
  std::string reply;
  if (!call("/v3/lease/keepalive", json{{"ID", std::to_string(id)}}.dump(), reply, error))
    return false;
  const std::size_t nl = reply.find('\n');
  const json j = json::parse(reply.substr(0, nl), nullptr, false);
  if (!j.is_object() || !(j.contains("result") || j.contains("error"))) {
    error = endpoint() + "/v3/lease/keepalive: not an etcd reply";
    return false;
  }
  if (j.contains("error")) {
    error = endpoint() + "/v3/lease/keepalive: " + j["error"].value("message", std::string("?"));
    return false;
  }
  ttl = int64_of(j["result"], "TTL");  // absent: 0, the lease expired
  return true;
}

bool EtcdClient::lease_revoke(std::int64_t id, std::string& error) {
  std::string reply;
  return call("/v3/lease/revoke", json{{"ID", std::to_string(id)}}.dump(), reply, error);
}

namespace {

// {"kvs": [{"value", "lease"}]} of a range response: the holder.
bool holder_of(const json& range, EtcdClient::Campaign& out) {
  out.holder.clear();
  out.holder_lease = 0;
  if (!range.is_object() || !range.contains("kvs") || !range["kvs"].is_array() ||
      range["kvs"].empty())
    return true;
  const json& kv = range["kvs"][0];
  auto value = unb64(kv.contains("value") ? kv["value"] : json());
  if (!value) return false;
  out.holder = std::move(*value);
  out.holder_lease = int64_of(kv, "lease");
  return true;
}

}  // namespace

bool EtcdClient::campaign(const std::string& key, const std::string& value, std::int64_t lease,
                          Campaign& out, std::string& error) {
  const json body = {
      {"compare", json::array({{{"target", "CREATE"},
                                {"result", "EQUAL"},
                                {"key", b64(key)},
                                {"create_revision", "0"}}})},
      {"success",
       json::array(
           {{{"request_put",
              {{"key", b64(key)}, {"value", b64(value)}, {"lease", std::to_string(lease)}}}}})},
      {"failure", json::array({{{"request_range", {{"key", b64(key)}}}}})}};
  std::string reply;
  if (!call("/v3/kv/txn", body.dump(), reply, error)) return false;
  const json j = json::parse(reply, nullptr, false);
  if (!j.is_object() || !j.contains("header")) {
    error = endpoint() + "/v3/kv/txn: not an etcd reply";
    return false;
  }
  out = Campaign{};
  out.revision = int64_of(j["header"], "revision");
  out.won = j.value("succeeded", false);
  if (out.won) {
    out.holder = value;
    out.holder_lease = lease;
    return true;
  }
  if (j.contains("responses") && j["responses"].is_array() && !j["responses"].empty()) {
    const json& r = j["responses"][0];
    if (!holder_of(r.value("response_range", json::object()), out)) {
      error = endpoint() + "/v3/kv/txn: the leader's value is not base64";
      return false;
    }
  }
  return true;
}

bool EtcdClient::read_key(const std::string& key, Campaign& out, std::string& error) {
  std::string reply;
  if (!call("/v3/kv/range", json{{"key", b64(key)}}.dump(), reply, error)) return false;
  const json j = json::parse(reply, nullptr, false);
  if (!j.is_object() || !j.contains("header")) {
    error = endpoint() + "/v3/kv/range: not an etcd reply";
    return false;
  }
  out = Campaign{};
  out.revision = int64_of(j["header"], "revision");
  if (!holder_of(j, out)) {
    error = endpoint() + "/v3/kv/range: the value is not base64";
    return false;
  }
  return true;
}

}  // namespace wghub::ctl
