// Fuzz target: the YAML config loader (load_config_string): yaml-cpp parsing,
// every section reader and validation. The text is loaded as if it were
// <dir>/wghub.yaml, where <dir> is a temporary directory holding valid key
// files (hub.key, psk/a.key, mode 0600) and a peers.d/ with one peer, so that
// the seeds load successfully and the fuzzer explores past the key checks.
// Properties: never a crash or throw; ok() means a state and no errors; every
// error formats.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "config/loader.hpp"
#include "fuzz/fuzz_common.hpp"

namespace {

std::string g_dir;
std::string g_virtual_path;

void remove_dir() {
  for (const char* f : {"/hub.key", "/psk/a.key", "/peers.d/site-b.yaml"})
    std::remove((g_dir + f).c_str());
  for (const char* d : {"/psk", "/peers.d", ""}) ::rmdir((g_dir + d).c_str());
}

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char tmpl[] = "/tmp/wghub-fuzz-yaml.XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  if (dir == nullptr) wghub::fuzz::fail("mkdtemp");
  const std::string d = g_dir = dir;
  std::atexit(remove_dir);
  // wg genkey / wg genpsk style base64 keys.
  write_file(d + "/hub.key", "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=\n", 0600);
  ::mkdir((d + "/psk").c_str(), 0700);
  write_file(d + "/psk/a.key", "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8=\n", 0600);
  ::mkdir((d + "/peers.d").c_str(), 0755);
  write_file(d + "/peers.d/site-b.yaml",
             "public_key: \"rQKKIfL4Ga9N3cFox/mIBYmLjtpslEdsdUltGRtvAIA=\"\n"
             "allowed_ips: [10.2.0.0/24]\n",
             0644);
  g_virtual_path = d + "/wghub.yaml";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  const auto r = wghub::config::load_config_string(yaml, g_virtual_path);
  wghub::fuzz::check(r.ok() == (r.state != nullptr), "a state with errors, or errors without");
  wghub::fuzz::check(r.ok() || !r.errors.empty(), "a failed load without an error");
  wghub::fuzz::trace("loaded: %d\n%s\n", r.ok(), r.error_text().c_str());
  return 0;
}
