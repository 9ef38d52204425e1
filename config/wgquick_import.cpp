// `wghub import`'s writers (see wgquick.hpp): wghub's YAML for a parsed
// wg-quick config (to_wghub_yaml) and the files it goes into, the keys in
// 0600 files (write_import).
#include "config/wgquick.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "config/wgquick_text.hpp"
#include "crypto/base64.hpp"

namespace wghub::config {

using detail::encode_secret;
using detail::one_line;
using detail::wipe_string;

namespace {

// YAML double-quoted scalar.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string value_or_placeholder(const std::string& v) {
  return v.empty() ? kPlaceholder : v;
}

// Writes content to path with the given mode. With exclusive, an existing
// file is an error; otherwise it is replaced and its mode reset.
std::string write_file(const std::string& path, const std::string& content, mode_t mode,
                       bool exclusive) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (exclusive ? O_EXCL : O_TRUNC);
  const int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0) return "cannot create '" + path + "': " + std::strerror(errno);
  std::string err;
  if (::fchmod(fd, mode) != 0)
    err = "cannot set the mode of '" + path + "': " + std::strerror(errno);
  std::size_t done = 0;
  while (err.empty() && done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = "cannot write '" + path + "': " + std::strerror(errno);
    } else {
      done += static_cast<std::size_t>(n);
    }
  }
  if (::close(fd) != 0 && err.empty()) err = "cannot write '" + path + "': " + std::strerror(errno);
  return err;
}

std::string write_key(const std::string& path, const crypto::Key& key, bool exclusive) {
  std::string text = encode_secret(key) + "\n";
  auto err = write_file(path, text, 0600, exclusive);
  wipe_string(text);
  return err;
}

}  // namespace

bool has_placeholders(const ImportOptions& o) {
  return o.wan_devargs.empty() || o.wan_address.empty() || o.lan_devargs.empty() ||
         o.lan_address.empty();
}

std::string to_wghub_yaml(const WgQuickConfig& config, const ImportOptions& options) {
  std::ostringstream y;
  const std::string source = one_line(options.source.empty() ? "a wg-quick file" : options.source);
  y << "# wghub configuration imported from " << source << " by `wghub import`.\n"
    << "# No key material is in this file: the hub's private key is in " << kImportPrivateKeyFile
    << "\n# and preshared keys are in " << kImportPskDir
    << "/NAME.key (mode 0600), next to this file.\n";
  if (has_placeholders(options)) {
    y << "# Values marked " << kPlaceholder
      << " have no wg-quick equivalent: fill them in, then check with\n"
      << "#   wghub --config " << kImportYamlFile << " --check-config\n";
  }
  y << "# Reference: docs/config.md.\n\n";

  const std::string name =
      options.interface_name.empty() ? config.interface_name : options.interface_name;
  y << "interface:\n"
    << "  name: " << quote(name.empty() ? kDefaultInterfaceName : name) << "\n"
    << "  private_key_file: " << quote(kImportPrivateKeyFile) << "\n";
  if (config.listen_port) {
    y << "  listen_port: " << *config.listen_port << "\n";
  } else {
    y << "  # listen_port: 51820           # the file had no ListenPort; wghub's default\n";
  }
  if (config.address) y << "  address: " << quote(config.address->to_string()) << "\n";

  auto port = [&](const char* which, const std::string& devargs, const std::string& address,
                  const std::string& gateway, const char* devargs_hint, const char* address_hint) {
    y << "  " << which << ":\n";
    y << "    devargs: " << quote(value_or_placeholder(devargs));
    if (devargs.empty()) y << "   # " << kPlaceholder << ": " << devargs_hint;
    y << "\n    address: " << quote(value_or_placeholder(address));
    if (address.empty()) y << "   # " << kPlaceholder << ": " << address_hint;
    y << "\n";
    if (!gateway.empty()) y << "    gateway: " << quote(gateway) << "\n";
  };
  y << "\nports:\n";
  port("wan", options.wan_devargs, options.wan_address, options.wan_gateway,
       "DPDK devargs of the port sites dial in on, e.g. \"0000:3b:00.0\"",
       "the appliance's WAN address and subnet, e.g. 198.51.100.10/24");
  port("lan", options.lan_devargs, options.lan_address, "",
       "DPDK devargs of the port facing the HQ networks", "the appliance's LAN address and subnet");

  y << "\n";
  if (config.peers.empty()) {
    y << "peers: []\n";
    return y.str();
  }
  y << "peers:\n";
  for (const auto& p : config.peers) {
    y << "  - name: " << quote(p.name) << "   # " << one_line(p.origin.to_string()) << "\n"
      << "    public_key: " << quote(crypto::key_to_base64(p.public_key.data())) << "\n";
    if (p.preshared_key) {
      y << "    preshared_key_file: " << quote(std::string(kImportPskDir) + "/" + p.name + ".key")
        << "\n";
    }
    y << "    allowed_ips: [";
    for (std::size_t i = 0; i < p.allowed_ips.size(); ++i) {
      y << (i ? ", " : "") << quote(p.allowed_ips[i].to_string());
    }
    y << "]\n";
    if (p.endpoint) y << "    endpoint: " << quote(p.endpoint->to_string()) << "\n";
    if (p.persistent_keepalive != 0) {
      y << "    persistent_keepalive: " << p.persistent_keepalive << "\n";
    }
  }
  return y.str();
}

std::vector<std::string> write_import(const WgQuickConfig& config, const ImportOptions& options,
                                      const std::string& dir, bool overwrite,
                                      std::vector<std::string>* written) {
  namespace fs = std::filesystem;
  std::vector<std::string> errors;
  const fs::path base(dir.empty() ? "." : dir);
  const std::string yaml_path = (base / kImportYamlFile).string();
  const std::string key_path = (base / kImportPrivateKeyFile).string();
  const fs::path psk_dir = base / kImportPskDir;

  std::vector<std::string> targets{yaml_path, key_path};
  for (const auto& p : config.peers) {
    if (p.preshared_key) targets.push_back((psk_dir / (p.name + ".key")).string());
  }
  if (!overwrite) {
    for (const auto& t : targets) {
      std::error_code ec;
      if (fs::symlink_status(t, ec).type() != fs::file_type::not_found) {
        errors.push_back("'" + t + "' exists; refusing to overwrite it (use --force)");
      }
    }
    if (!errors.empty()) return errors;
  }

  std::error_code ec;
  fs::create_directories(base, ec);
  if (ec) return {"cannot create directory '" + base.string() + "': " + ec.message()};
  if (!config.private_key) return {"no private key to write"};

  auto record = [&](const std::string& path, std::string err) {
    if (err.empty()) {
      if (written) written->push_back(path);
    } else {
      errors.push_back(std::move(err));
    }
  };
  record(key_path, write_key(key_path, *config.private_key, !overwrite));
  bool psk_dir_ready = false;
  for (const auto& p : config.peers) {
    if (!p.preshared_key) continue;
    if (!psk_dir_ready) {
      if (::mkdir(psk_dir.c_str(), 0700) != 0 && errno != EEXIST) {
        errors.push_back("cannot create directory '" + psk_dir.string() +
                         "': " + std::strerror(errno));
        break;
      }
      psk_dir_ready = true;
    }
    const std::string path = (psk_dir / (p.name + ".key")).string();
    record(path, write_key(path, *p.preshared_key, !overwrite));
  }
  if (errors.empty()) {
    record(yaml_path, write_file(yaml_path, to_wghub_yaml(config, options), 0644, !overwrite));
  }
  return errors;
}

}  // namespace wghub::config
