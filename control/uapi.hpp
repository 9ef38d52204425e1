// The wg(8) cross-platform userspace API, protocol half: framing of requests,
// parsing a "set" into a typed SetRequest and formatting a "get" from a typed
// DeviceStatus, plus the narrow Backend interface the hub's device implements.
// The socket half (uapi_server.hpp) moves bytes; everything that understands
// them is here, pure and testable without sockets.
//
// Protocol: https://www.wireguard.com/xplatform/ ("Configuration Protocol"),
// with the key order and value semantics of wireguard-go device/uapi.go and
// what wireguard-tools src/ipc-uapi.h sends and accepts.
//
// Key hygiene (issue 7): a get never carries private_key or preshared_key.
// wg(8) then prints no private key and no interface public key (it derives the
// latter from the private key), and no preshared key for any peer; `wg
// showconf` omits PrivateKey and PresharedKey. wireguard-go sends both.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/address.hpp"
#include "config/endpoint.hpp"
#include "crypto/secret.hpp"

namespace wghub::ctl::uapi {

using PublicKey = std::array<std::uint8_t, 32>;
// AllowedIPs are canonical prefixes (no host bits), the form the FIB takes.
using AllowedIp = config::Prefix;
using Endpoint = config::Endpoint;

// ---- get ---------------------------------------------------------------

struct PeerStatus {
  PublicKey public_key{};
  std::optional<Endpoint> endpoint;      // the last authenticated one; none yet = omitted
  std::uint64_t last_handshake_sec = 0;  // Unix time; 0 = never (wg prints nothing)
  std::uint64_t last_handshake_nsec = 0;
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
  std::uint16_t persistent_keepalive = 0;  // seconds; 0 = off
  std::vector<AllowedIp> allowed_ips;
};

struct DeviceStatus {
  std::uint16_t listen_port = 0;  // 0 = omitted (wireguard-go sends it only when set)
  std::uint32_t fwmark = 0;       // 0 = omitted
  std::vector<PeerStatus> peers;
};

// ---- set ---------------------------------------------------------------

// One allowed_ip line. "allowed_ip=-CIDR" removes the prefix from this peer
// only: newer wireguard-tools send it for `wg set ... allowed-ips -CIDR`
// (WGALLOWEDIP_REMOVE_ME in src/ipc-uapi.h; the wg 1.0.20210914 installed
// here cannot). A plain line adds the prefix, taking it from whichever peer
// had it (one owner per prefix, as in the kernel and wireguard-go).
struct AllowedIpChange {
  AllowedIp prefix;
  bool remove = false;

  bool operator==(const AllowedIpChange&) const = default;
};

// One "public_key=" block of a set, in request order. Fields the block did
// not mention are nullopt/false/empty and must be left as they are.
struct PeerChange {
  PublicKey public_key{};
  // The peer goes away; the backend ignores every other field of the block
  // (wireguard-go turns the rest of the block into a no-op).
  bool remove = false;
  // Apply only if the peer already exists; never create it.
  bool update_only = false;
  // All-zero removes the preshared key (the protocol has no other way).
  std::optional<crypto::Key> preshared_key;
  std::optional<Endpoint> endpoint;
  std::optional<std::uint16_t> persistent_keepalive;  // seconds; 0 = off
  // Drop every allowed IP of the peer before applying `allowed_ips`. A
  // replace_allowed_ips line after allowed_ip lines discards those lines, so
  // "replace, then the list" is always the meaning, as in wireguard-go.
  bool replace_allowed_ips = false;
  std::vector<AllowedIpChange> allowed_ips;  // in request order
};

struct SetRequest {
  // All-zero removes the private key (wireguard-go FromMaybeZeroHex).
  std::optional<crypto::Key> private_key;
  std::optional<std::uint16_t> listen_port;
  std::optional<std::uint32_t> fwmark;  // 0 = off
  // Remove every peer before applying `peers`.
  bool replace_peers = false;
  std::vector<PeerChange> peers;  // in request order; one key may appear twice
};

// What the hub implements. Both calls come from the control thread (the
// server is polled there), so an implementation needs no locking of its own.
// Where a get answered in slices stands (Backend::get_slice).
struct GetCursor {
  bool started = false;
  std::uint64_t next = 0;  // the backend's own position (the hub: a peer slot)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceStatus get() = 0;
  // A get in slices, so that 10^5 peers never hold the control thread for
  // the whole reply: the first call fills the device fields, each call adds
  // at most `max_peers` peers from `cursor` on to `out.peers`. True once
  // every peer is in. Peers added or removed between slices may be missed
  // or listed, as in a kernel netlink dump; none is listed twice. The
  // default answers the whole get() in the first call.
  virtual bool get_slice(GetCursor& cursor, std::size_t max_peers, DeviceStatus& out) {
    (void)max_peers;
    if (!cursor.started) out = get();
    cursor.started = true;
    return true;
  }
  // Applies a whole, already validated request: replace_peers first, then the
  // peers in order. Returns 0 or a positive errno (EINVAL for a value the hub
  // cannot take, EADDRINUSE for a listen port it cannot bind, ...). A peer
  // whose key is the device's own public key is to be ignored (wireguard-go).
  virtual int set(const SetRequest& request) = 0;
};

// ---- framing -------------------------------------------------------------

// A request is "get=1\n\n" or "set=1\n" + key=value lines + "\n".
enum class FrameKind : std::uint8_t {
  incomplete,  // a prefix of a valid request; read more
  get,
  set,
  malformed,  // cannot become a request; reply errno and close
};

struct Frame {
  FrameKind kind = FrameKind::incomplete;
  std::size_t length = 0;  // bytes of `buffer` the request takes (get/set)
  std::string_view body;   // set: the key=value lines, each ending in '\n'
};

// Finds the first request in `buffer`. `scan_from` lets a caller that appends
// to a buffer resume the search for the blank line where the last call left
// it (pass the same variable each time, reset to 0 after consuming a request),
// so a large set costs one pass, not one pass per read.
Frame frame_request(std::string_view buffer, std::size_t& scan_from);

// ---- protocol ------------------------------------------------------------

struct ParseError {
  int error = 0;         // positive errno; EINVAL for everything the parser rejects
  std::size_t line = 0;  // 1-based line of the body
  // Names the line, a known key and the problem; never a value (it may be a
  // secret) nor an unknown key, so it is safe to log.
  std::string message;
};

// Parses a set body (Frame::body). Returns nullopt and fills `out`, or the
// error. Secrets go from the text straight into crypto::Key.
std::optional<ParseError> parse_set(std::string_view body, SetRequest& out);

// The whole reply to a get: device keys, then per peer public_key,
// protocol_version, endpoint, last_handshake_time_sec/nsec, tx_bytes,
// rx_bytes, persistent_keepalive_interval, allowed_ip lines (wireguard-go's
// order), then "errno=0" and the blank line.
std::string format_get(const DeviceStatus& status);
// format_get in parts, for a reply written a slice of peers at a time:
// the device lines, then the peers' lines, then format_errno(0).
void append_get_device(const DeviceStatus& status, std::string& out);
void append_get_peers(const std::vector<PeerStatus>& peers, std::string& out);

// The reply that ends a set, or any failed request: "errno=N\n\n". For a
// failure N is the negated errno: wireguard-go sends it so, and wg(8) reads
// it as a kernel-style return value (errno = -N) so that `wg set` reports
// "Invalid argument" rather than "Unknown error -22".
std::string format_errno(int positive_errno);

// Lower-case hex of a public key, the protocol's key encoding.
std::string key_to_hex(const PublicKey& key);

}  // namespace wghub::ctl::uapi
