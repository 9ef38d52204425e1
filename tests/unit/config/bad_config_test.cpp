// The bad-config table: each row is a config an operator could plausibly
// write, and the exact lines the loader must print for it. "$D" stands for the
// scratch directory the row runs in (the config is $D/hub.yaml).
#include <gtest/gtest.h>
#include <unistd.h>

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "config/loader.hpp"
#include "temp_dir.hpp"

namespace wghub::config {
namespace {

using test::key_text;
using test::TempDir;

struct Row {
  const char* name;
  std::string yaml;
  std::vector<std::string> expected;
  std::vector<std::pair<std::string, std::string>> files = {};  // extra files (rel path, content)
};

// gtest prints a failing row by its name instead of its bytes.
void PrintTo(const Row& row, std::ostream* os) {
  *os << row.name;
}

const std::string K1 = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const std::string K2 = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

// Lines 1-5; rows append from line 6.
const std::string kBase =
    "interface:\n"
    "  private_key_file: hub.key\n"
    "ports:\n"
    "  wan: {devargs: net_null0, address: 198.51.100.10/24}\n"
    "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n";

// kBase plus one peer "a" (lines 6-9) whose allowed_ips line is given.
std::string one_peer(const std::string& key, const std::string& allowed) {
  return kBase +
         "peers:\n"
         "  - name: a\n"
         "    public_key: " +
         key + "\n    allowed_ips: " + allowed + "\n";
}

std::string with_interface(const std::string& iface_lines) {
  return "interface:\n" + iface_lines +
         "ports:\n"
         "  wan: {devargs: net_null0, address: 198.51.100.10/24}\n"
         "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n";
}

// Lines 1-8 with the LAN port as a block; route lines start at 9.
std::string with_lan_routes(const std::string& routes) {
  return "interface:\n"
         "  private_key_file: hub.key\n"
         "ports:\n"
         "  wan: {devargs: net_null0, address: 198.51.100.10/24}\n"
         "  lan:\n"
         "    devargs: net_null1\n"
         "    address: 10.0.0.1/16\n"
         "    routes:\n" +
         routes;
}

const std::string kHint = "; expected the 44-character base64 key printed by 'wg pubkey'";

std::vector<Row> rows() {
  return {
      {"BadBase64PublicKey",
       one_peer("\"not!base64\"", "[10.1.0.0/24]"),
       {"$D/hub.yaml:8:17: peers[0].public_key: not valid base64 (unexpected character at "
        "position 4)" +
        kHint}},
      {"PublicKeyWrongLength",
       one_peer("CQkJCQkJCQkJCQkJCQkJCQ==", "[10.1.0.0/24]"),
       {"$D/hub.yaml:8:17: peers[0].public_key: decodes to 16 bytes, but a WireGuard key is 32 "
        "bytes" +
        kHint}},
      {"PublicKeyMissingPadding",
       one_peer("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", "[10.1.0.0/24]"),
       {"$D/hub.yaml:8:17: peers[0].public_key: not valid base64 (43 characters; a key is 44 "
        "characters ending in '=')" +
        kHint}},
      {"CidrSyntax",
       one_peer(K1, "[10.1.0/24]"),
       {"$D/hub.yaml:9:19: peers[0].allowed_ips[0]: '10.1.0' is not a valid IPv4 or IPv6 "
        "address"}},
      {"CidrPrefixTooLongV4",
       one_peer(K1, "[10.1.0.0/33]"),
       {"$D/hub.yaml:9:19: peers[0].allowed_ips[0]: prefix length 33 is too long for IPv4 (at "
        "most 32)"}},
      {"CidrPrefixTooLongV6",
       one_peer(K1, "[\"fd00::/129\"]"),
       {"$D/hub.yaml:9:19: peers[0].allowed_ips[0]: prefix length 129 is too long for IPv6 (at "
        "most 128)"}},
      {"HostBitsInAllowedIps",
       one_peer(K1, "[10.1.0.0/24, 10.2.0.9/16]"),
       {"$D/hub.yaml:9:32: peers[0].allowed_ips[1]: host bits set; did you mean 10.2.0.0/16?"}},
      {"HostBitsInRoutePrefix",
       with_lan_routes("      - {prefix: 172.16.0.1/12, via: 10.0.0.254}\n"),
       {"$D/hub.yaml:9:18: ports.lan.routes[0].prefix: host bits set; did you mean "
        "172.16.0.0/12?"}},
      {"RouteViaOutsideSubnet",
       with_lan_routes("      - {prefix: 172.16.0.0/12, via: 10.1.0.254}\n"),
       {"$D/hub.yaml:9:38: ports.lan.routes[0].via: via 10.1.0.254 is outside the port's subnet "
        "10.0.0.0/16; a next hop must be directly reachable"}},
      // The hub's ports need an IPv4 address (IPv6 goes in address6);
      // --check-config says so, not only the start.
      {"Ipv6PortAddress",
       "interface:\n"
       "  private_key_file: hub.key\n"
       "ports:\n"
       "  wan: {devargs: net_null0, address: \"2001:db8:1::10/64\"}\n"
       "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n",
       {"$D/hub.yaml:4:38: ports.wan.address: the port address must be IPv4 for now; give the "
        "IPv6 one as address6"}},
      {"GatewayOutsideSubnet",
       "interface:\n"
       "  private_key_file: hub.key\n"
       "ports:\n"
       "  wan: {devargs: net_null0, address: 198.51.100.10/24, gateway: 198.51.101.1}\n"
       "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n",
       {"$D/hub.yaml:4:65: ports.wan.gateway: gateway 198.51.101.1 is outside the port's subnet "
        "198.51.100.0/24; a next hop must be directly reachable"}},
      {"GatewayOtherFamily",
       "interface:\n"
       "  private_key_file: hub.key\n"
       "ports:\n"
       "  wan: {devargs: net_null0, address: 198.51.100.10/24, gateway: \"2001:db8::1\"}\n"
       "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n",
       {"$D/hub.yaml:4:65: ports.wan.gateway: gateway 2001:db8::1 is IPv6 but the port address "
        "198.51.100.10/24 is not; an IPv6 default next hop is gateway6"}},
      {"Address6IsIpv4",
       "interface:\n"
       "  private_key_file: hub.key\n"
       "ports:\n"
       "  wan: {devargs: net_null0, address: 198.51.100.10/24}\n"
       "  lan: {devargs: net_null1, address: 10.0.0.1/16, address6: 10.1.0.1/16}\n",
       {"$D/hub.yaml:5:61: ports.lan.address6: 10.1.0.1/16 is IPv4; address6 takes the port's "
        "IPv6 address, e.g. \"fd00::1/64\" (the IPv4 address goes in address)"}},
      {"Address6NextToIpv6Address",
       "interface:\n"
       "  private_key_file: hub.key\n"
       "ports:\n"
       "  wan: {devargs: net_null0, address: \"2001:db8::10/64\", address6: \"2001:db8:1::1/64\"}\n"
       "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n",
       {"$D/hub.yaml:4:67: ports.wan.address6: address 2001:db8::10/64 is IPv6 already; address6 "
        "is for an IPv6 address next to an IPv4 address"}},
      {"Address6IsSubnetRouterAnycast",
       "interface:\n"
       "  private_key_file: hub.key\n"
       "ports:\n"
       "  wan: {devargs: net_null0, address: 198.51.100.10/24}\n"
       "  lan: {devargs: net_null1, address: 10.0.0.1/16, address6: \"fd00::/64\"}\n",
       {"$D/hub.yaml:5:61: ports.lan.address6: fd00::/64 is the Subnet-Router anycast address of "
        "fd00::/64; give the appliance's own host address in that subnet"}},
      {"Gateway6WithoutAddress6",
       "interface:\n"
       "  private_key_file: hub.key\n"
       "ports:\n"
       "  wan: {devargs: net_null0, address: 198.51.100.10/24, gateway6: \"2001:db8::1\"}\n"
       "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n",
       {"$D/hub.yaml:4:66: ports.wan.gateway6: gateway6 needs the port's IPv6 address: add "
        "ports.wan.address6"}},
      {"Gateway6OutsideSubnet",
       "interface:\n"
       "  private_key_file: hub.key\n"
       "ports:\n"
       "  wan: {devargs: net_null0, address: 198.51.100.10/24, address6: \"2001:db8::10/64\",\n"
       "        gateway6: \"2001:db9::1\"}\n"
       "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n",
       {"$D/hub.yaml:5:19: ports.wan.gateway6: gateway6 2001:db9::1 is outside the port's subnet "
        "2001:db8::/64; a next hop must be directly reachable"}},
      {"Ipv6RouteWithoutAddress6",
       with_lan_routes("      - {prefix: \"fd00:5::/64\", via: \"fd00::fe\"}\n"),
       {"$D/hub.yaml:9:38: ports.lan.routes[0].via: via fd00::fe is IPv6 but the port address "
        "10.0.0.1/16 is not; add the port's IPv6 address as address6"}},
      {"Address6SubnetClaimedByPeer",
       "interface:\n"
       "  private_key_file: hub.key\n"
       "ports:\n"
       "  wan: {devargs: net_null0, address: 198.51.100.10/24}\n"
       "  lan: {devargs: net_null1, address: 10.0.0.1/16, address6: \"fd00::1/64\"}\n"
       "peers:\n"
       "  - name: a\n"
       "    public_key: " +
           K1 +
           "\n"
           "    allowed_ips: [\"fd00::/64\"]\n",
       {"$D/hub.yaml:9:19: peers[0].allowed_ips[0]: fd00::/64 is already claimed by the IPv6 "
        "subnet of port lan ($D/hub.yaml:5:61)"}},
      {"PortAddressIsNetworkAddress",
       "interface:\n"
       "  private_key_file: hub.key\n"
       "ports:\n"
       "  wan: {devargs: net_null0, address: 198.51.100.10/24}\n"
       "  lan: {devargs: net_null1, address: 10.0.0.0/16}\n",
       {"$D/hub.yaml:5:38: ports.lan.address: 10.0.0.0/16 is the network address of 10.0.0.0/16; "
        "give the appliance's own host address in that subnet"}},
      {"PortAddressIsBroadcastAddress",
       "interface:\n"
       "  private_key_file: hub.key\n"
       "ports:\n"
       "  wan: {devargs: net_null0, address: 198.51.100.255/24}\n"
       "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n",
       {"$D/hub.yaml:4:38: ports.wan.address: 198.51.100.255/24 is the broadcast address of "
        "198.51.100.0/24; give the appliance's own host address in that subnet"}},
      {"SamePrefixOnTwoPeers",
       one_peer(K1, "[10.1.0.0/24]") +
           "  - name: b\n"
           "    public_key: " +
           K2 +
           "\n"
           "    allowed_ips: [10.2.0.0/24, 10.1.0.0/24]\n",
       {"$D/hub.yaml:12:32: peers[1].allowed_ips[1]: peer 'b' and peer 'a' ($D/hub.yaml:9:19) "
        "both claim 10.1.0.0/24; a prefix can belong to one peer only"}},
      {"SamePrefixTwiceOnOnePeer",
       one_peer(K1, "[10.1.0.0/24, 10.1.0.0/24]"),
       {"$D/hub.yaml:9:32: peers[0].allowed_ips[1]: 10.1.0.0/24 is listed twice (first at "
        "$D/hub.yaml:9:19)"}},
      {"PeerPrefixIsAStaticRoute",
       with_lan_routes("      - {prefix: 172.16.0.0/12, via: 10.0.0.254}\n") +
           "peers:\n"
           "  - name: a\n"
           "    public_key: " +
           K1 + "\n    allowed_ips: [172.16.0.0/12]\n",
       {"$D/hub.yaml:13:19: peers[0].allowed_ips[0]: 172.16.0.0/12 is already claimed by a "
        "static route via 10.0.0.254 on port lan ($D/hub.yaml:9:18)"}},
      // Issue 13 item 2: a peer may not replace the hub's own routes.
      {"PeerPrefixIsTheHubsLanAddress",
       one_peer(K1, "[10.1.0.0/24, 10.0.0.1/32]"),
       {"$D/hub.yaml:9:32: peers[0].allowed_ips[1]: 10.0.0.1/32 is the hub's own address "
        "(ports.lan.address); a peer's allowed IPs may not replace the hub's own routes"}},
      {"PeerPrefixIsTheHubsWanAddress",
       one_peer(K1, "[198.51.100.10]"),
       {"$D/hub.yaml:9:19: peers[0].allowed_ips[0]: 198.51.100.10/32 is the hub's own address "
        "(ports.wan.address); a peer's allowed IPs may not replace the hub's own routes"}},
      {"DefaultRouteWhenTheLanHasAGateway",
       with_lan_routes("      - {prefix: 172.16.0.0/12, via: 10.0.0.254}\n") +
           "    gateway: 10.0.0.254\n"
           "peers:\n"
           "  - name: a\n"
           "    public_key: " +
           K1 + "\n    allowed_ips: [0.0.0.0/0]\n",
       {"$D/hub.yaml:14:19: peers[0].allowed_ips[0]: 0.0.0.0/0 is the default route via "
        "ports.lan.gateway 10.0.0.254 (a peer may hold it only on a hub without that gateway); "
        "a peer's allowed IPs may not replace the hub's own routes"}},
      {"DuplicatePublicKey",
       one_peer(K1, "[10.1.0.0/24]") +
           "  - name: b\n"
           "    public_key: " +
           K1 + "\n    allowed_ips: [10.2.0.0/24]\n",
       {"$D/hub.yaml:11:17: peers[1].public_key: peer 'b' has the same public key as peer 'a' "
        "($D/hub.yaml:8:17); every peer needs its own key pair"}},
      {"DuplicatePeerName",
       one_peer(K1, "[10.1.0.0/24]") +
           "  - name: a\n"
           "    public_key: " +
           K2 + "\n    allowed_ips: [10.2.0.0/24]\n",
       {"$D/hub.yaml:10:11: peers[1].name: duplicate peer name 'a' (first defined at "
        "$D/hub.yaml:7:11)"}},
      {"InvalidPeerName",
       kBase + "peers:\n  - name: plant berlin\n    public_key: " + K1 + "\n",
       {"$D/hub.yaml:7:11: peers[0].name: 'plant berlin' is not a valid peer name; use 1 to 64 "
        "characters from A-Z a-z 0-9 _ . -"}},
      {"UnknownKeyWithSuggestion",
       kBase + "peers:\n  - name: a\n    public_key: " + K1 + "\n    alowed_ips: [10.1.0.0/24]\n",
       {"$D/hub.yaml:9:5: peers[0].alowed_ips: unknown key 'alowed_ips'; did you mean "
        "'allowed_ips'?"}},
      {"UnknownKeyWithoutSuggestion",
       kBase + "frobnicate: 1\n",
       {"$D/hub.yaml:6:1: frobnicate: unknown key 'frobnicate'; known keys here: interface, "
        "ports, dataplane, metrics, sites, store, peers_dir, peers"}},
      {"DuplicateYamlKey",
       with_interface("  private_key_file: hub.key\n  private_key_file: other.key\n"),
       {"$D/hub.yaml:3:3: interface.private_key_file: key 'private_key_file' appears twice "
        "(first at $D/hub.yaml:2:3); remove one"}},
      {"StringWhereListExpected",
       one_peer(K1, "10.1.0.0/24"),
       {"$D/hub.yaml:9:18: peers[0].allowed_ips: expected a list like [10.1.0.0/24, "
        "\"fd00:1::/64\"], got a single value '10.1.0.0/24'"}},
      {"MappingWhereListExpected",
       kBase + "peers: {name: a}\n",
       {"$D/hub.yaml:6:8: peers: expected a list like [{name: site-a, public_key: ..., "
        "allowed_ips: [...]}], got a mapping"}},
      {"StringWhereIntExpected",
       with_interface("  private_key_file: hub.key\n  listen_port: abc\n"),
       {"$D/hub.yaml:3:16: interface.listen_port: expected an integer 1..65535, got 'abc'"}},
      {"ListWhereIntExpected",
       with_interface("  private_key_file: hub.key\n  listen_port: [51820]\n"),
       {"$D/hub.yaml:3:16: interface.listen_port: expected an integer 1..65535, got a list"}},
      {"ListenPortTooLarge",
       with_interface("  private_key_file: hub.key\n  listen_port: 70000\n"),
       {"$D/hub.yaml:3:16: interface.listen_port: port 70000 is out of range (1..65535)"}},
      {"ListenPortZero",
       with_interface("  private_key_file: hub.key\n  listen_port: 0\n"),
       {"$D/hub.yaml:3:16: interface.listen_port: port 0 is out of range (1..65535)"}},
      {"InvalidInterfaceName",
       with_interface("  private_key_file: hub.key\n  name: wghub-concentrator0\n"),
       {"$D/hub.yaml:3:9: interface.name: 'wghub-concentrator0' is not a valid interface name; "
        "use 1 to 15 characters from A-Z a-z 0-9 and _ = + . -"}},
      {"MissingPublicKey",
       kBase + "peers:\n  - name: a\n    allowed_ips: [10.1.0.0/24]\n",
       {"$D/hub.yaml:7:5: peers[0].public_key: required field is missing"}},
      {"EmptyPublicKey",
       kBase + "peers:\n  - name: a\n    public_key:\n",
       {"$D/hub.yaml:8:5: peers[0].public_key: required field has no value"}},
      {"MissingPortsSection",
       "interface:\n  private_key_file: hub.key\n",
       {"$D/hub.yaml:1:1: ports: required field is missing"}},
      {"MissingDevargs",
       "interface:\n"
       "  private_key_file: hub.key\n"
       "ports:\n"
       "  wan: {address: 198.51.100.10/24}\n"
       "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n",
       {"$D/hub.yaml:4:8: ports.wan.devargs: required field is missing"}},
      {"MissingPrivateKeyFile",
       with_interface("  name: wghub0\n"),
       {"$D/hub.yaml:2:3: interface.private_key_file: required field is missing"}},
      {"PrivateKeyFileMissing",
       with_interface("  private_key_file: nope.key\n"),
       {"$D/hub.yaml:2:21: interface.private_key_file: cannot read private key file "
        "'$D/nope.key': No such file or directory; point private_key_file at the file 'wg genkey' "
        "wrote"}},
      {"PrivateKeyFileIsADirectory",
       with_interface("  private_key_file: keydir\n"),
       {"$D/hub.yaml:2:21: interface.private_key_file: private key file '$D/keydir' is a "
        "directory, not a key file; point private_key_file at the file 'wg genkey' wrote"}},
      {"PrivateKeyFileIsASymbolicLink",
       with_interface("  private_key_file: link.key\n"),
       {"$D/hub.yaml:2:21: interface.private_key_file: private key file '$D/link.key' is a "
        "symbolic link; point private_key_file at the file itself"}},
      {"PresharedKeyFileIsASymbolicLink",
       kBase + "peers:\n  - name: a\n    public_key: " + K1 +
           "\n    preshared_key_file: link.key\n",
       {"$D/hub.yaml:9:25: peers[0].preshared_key_file: preshared key file '$D/link.key' is a "
        "symbolic link; point preshared_key_file at the file itself"}},
      {"PrivateKeyFileWorldReadable",
       with_interface("  private_key_file: open.key\n"),
       {"$D/hub.yaml:2:21: interface.private_key_file: private key file '$D/open.key' is "
        "accessible by group or others (mode 0644); refusing to use it. Fix it with: chmod 600 "
        "$D/open.key"}},
      {"PrivateKeyFileNotAKey",
       with_interface("  private_key_file: garbage.key\n"),
       {"$D/hub.yaml:2:21: interface.private_key_file: private key file '$D/garbage.key' does "
        "not hold a valid key: not valid base64 (unexpected character at position 5); expected "
        "the output of 'wg genkey'"}},
      {"PrivateKeyFileWrongLength",
       with_interface("  private_key_file: short.key\n"),
       {"$D/hub.yaml:2:21: interface.private_key_file: private key file '$D/short.key' does not "
        "hold a valid key: decodes to 16 bytes, but a WireGuard key is 32 bytes; expected the "
        "output of 'wg genkey'"}},
      {"PrivateKeyFileEmpty",
       with_interface("  private_key_file: empty.key\n"),
       {"$D/hub.yaml:2:21: interface.private_key_file: private key file '$D/empty.key' does not "
        "hold a valid key: the key is empty; expected the output of 'wg genkey'"}},
      {"PresharedKeyFileGroupReadable",
       kBase + "peers:\n  - name: a\n    public_key: " + K1 +
           "\n    preshared_key_file: psk/group.key\n",
       {"$D/hub.yaml:9:25: peers[0].preshared_key_file: preshared key file '$D/psk/group.key' is "
        "accessible by group or others (mode 0640); refusing to use it. Fix it with: chmod 600 "
        "$D/psk/group.key"}},
      {"EndpointHostName",
       kBase + "peers:\n  - name: a\n    public_key: " + K1 +
           "\n    endpoint: vpn.example.com:51820\n",
       {"$D/hub.yaml:9:15: peers[0].endpoint: 'vpn.example.com' is not an IP address; host names "
        "are not resolved, use an IP literal"}},
      {"EndpointV6WithoutBrackets",
       kBase + "peers:\n  - name: a\n    public_key: " + K1 +
           "\n    endpoint: \"2001:db8::7:51820\"\n",
       {"$D/hub.yaml:9:15: peers[0].endpoint: '2001:db8::7:51820': an IPv6 endpoint needs "
        "brackets, e.g. [2001:db8::1]:51820"}},
      {"EndpointUnquotedV6",
       kBase + "peers:\n  - name: a\n    public_key: " + K1 + "\n    endpoint: [2001:db8::7]\n",
       {"$D/hub.yaml:9:15: peers[0].endpoint: expected a string, got a list; quote IPv6 "
        "endpoints: \"[2001:db8::1]:51820\""}},
      {"EndpointPortOutOfRange",
       kBase + "peers:\n  - name: a\n    public_key: " + K1 + "\n    endpoint: 203.0.113.7:65536\n",
       {"$D/hub.yaml:9:15: peers[0].endpoint: port 65536 is out of range (1..65535)"}},
      {"KeepaliveTooLarge",
       kBase + "peers:\n  - name: a\n    public_key: " + K1 + "\n    persistent_keepalive: 70000\n",
       {"$D/hub.yaml:9:27: peers[0].persistent_keepalive: keepalive interval 70000 is out of range "
        "(0..65535)"}},
      {"KeepaliveNegative",
       kBase + "peers:\n  - name: a\n    public_key: " + K1 + "\n    persistent_keepalive: -5\n",
       {"$D/hub.yaml:9:27: peers[0].persistent_keepalive: keepalive interval -5 is out of range "
        "(0..65535)"}},
      {"LcoreZero",
       kBase + "dataplane:\n  lcores: [0, 1]\n",
       {"$D/hub.yaml:7:12: dataplane.lcores[0]: lcore 0 is the main lcore and runs the control "
        "thread; workers start at 1"}},
      {"LcoreTwice",
       kBase + "dataplane:\n  lcores: [1, 2, 1]\n",
       {"$D/hub.yaml:7:18: dataplane.lcores[2]: lcore 1 is listed twice"}},
      {"LcoreNotANumber",
       kBase + "dataplane:\n  lcores: [1, two]\n",
       {"$D/hub.yaml:7:15: dataplane.lcores[1]: expected an integer 1..127, got 'two'"}},
      {"LcoreTooLarge",
       kBase + "dataplane:\n  lcores: [200]\n",
       {"$D/hub.yaml:7:12: dataplane.lcores[0]: lcore 200 is out of range (1..127)"}},
      {"LcoresNotAList",
       kBase + "dataplane:\n  lcores: 1-3\n",
       {"$D/hub.yaml:7:11: dataplane.lcores: expected a list like [1, 2, 3], got a single value "
        "'1-3'"}},
      {"LcoresEmpty",
       kBase + "dataplane:\n  lcores: []\n",
       {"$D/hub.yaml:7:11: dataplane.lcores: the list is empty; at least one worker lcore is "
        "needed, e.g. [1]"}},
      {"BurstSizeTooLarge",
       kBase + "dataplane:\n  burst_size: 1024\n",
       {"$D/hub.yaml:7:15: dataplane.burst_size: burst size 1024 is out of range (1..512)"}},
      {"MetricsListenHostName",
       kBase + "metrics:\n  listen: localhost:9586\n",
       {"$D/hub.yaml:7:11: metrics.listen: 'localhost' is not an IP address; host names are not "
        "resolved, use an IP literal"}},
      {"NotAMapping",
       "hello\n",
       {"$D/hub.yaml:1:1: expected a mapping with keys interface, ports, dataplane, metrics, "
        "sites, store, peers_dir, peers, got 'hello'"}},
      {"MetricsEnabledNotABool",
       kBase + "metrics:\n  enabled: maybe\n",
       {"$D/hub.yaml:7:12: metrics.enabled: expected true or false, got 'maybe'"}},
      {"MetricsPerPeerUnknown",
       kBase + "metrics:\n  per_peer: some\n",
       {"$D/hub.yaml:7:13: metrics.per_peer: expected all or none, got 'some'"}},
      {"MetricsPerPeerLimitZero",
       kBase + "metrics:\n  per_peer_limit: 0\n",
       {"$D/hub.yaml:7:19: metrics.per_peer_limit: per-peer limit 0 is out of range (1..1048576)"}},
      {"MetricsPerPeerLimitWithNone",
       kBase + "metrics:\n  per_peer: none\n  per_peer_limit: 100\n",
       {"$D/hub.yaml:8:19: metrics.per_peer_limit: has no effect with per_peer: none; remove one "
        "of the two"}},
      {"YamlSyntaxError",
       kBase + "peers:\n  - name: a\n    public_key: [unclosed\n",
       {"$D/hub.yaml:9:1: YAML syntax error: end of sequence flow not found"}},
      {"EmptyFile",
       "",
       {"$D/hub.yaml: the file is empty; expected at least the 'interface' and "
        "'ports' sections"}},
      {"PeersDirMissing",
       kBase + "peers_dir: nowhere.d\n",
       {"$D/hub.yaml:6:12: peers_dir: peers directory '$D/nowhere.d' does not exist"}},
      {"PeersDirFileWithError",
       kBase + "peers_dir: peers.d\n",
       {"$D/peers.d/berlin.yaml:2:13: public_key: not valid base64 (3 characters; a key is 44 "
        "characters ending in '=')" +
        kHint},
       {{"peers.d/berlin.yaml", "allowed_ips: [10.1.0.0/24]\npublic_key: bad\n"}}},
      {"PeersDirFileSyntaxError",
       kBase + "peers_dir: peers.d\n",
       {"$D/peers.d/hamburg.yaml:2:1: YAML syntax error: end of sequence flow not found"},
       {{"peers.d/hamburg.yaml", "allowed_ips: [10.1.0.0/24\n"}}},
      {"PeersDirPrefixClashWithInlinePeer",
       one_peer(K1, "[10.1.0.0/24]") + "peers_dir: peers.d\n",
       {"$D/peers.d/berlin.yaml:2:15: allowed_ips[0]: peer 'berlin' and peer 'a' "
        "($D/hub.yaml:9:19) both claim 10.1.0.0/24; a prefix can belong to one peer only"},
       {{"peers.d/berlin.yaml", "public_key: " + K2 + "\nallowed_ips: [10.1.0.0/24]\n"}}},
      {"AllErrorsAreReported",
       "interface:\n"
       "  private_key_file: open.key\n"
       "  listen_port: 0\n"
       "ports:\n"
       "  wan: {devargs: net_null0, address: 198.51.100.10/24}\n"
       "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n"
       "peers:\n"
       "  - name: a\n"
       "    public_key: " +
           K1 +
           "\n"
           "    allowed_ips: [10.1.0.1/24]\n",
       {"$D/hub.yaml:2:21: interface.private_key_file: private key file '$D/open.key' is "
        "accessible by group or others (mode 0644); refusing to use it. Fix it with: chmod 600 "
        "$D/open.key",
        "$D/hub.yaml:3:16: interface.listen_port: port 0 is out of range (1..65535)",
        "$D/hub.yaml:10:19: peers[0].allowed_ips[0]: host bits set; did you mean 10.1.0.0/24?"}},
  };
}

std::string substitute(std::string s, const std::string& dir) {
  for (std::size_t pos; (pos = s.find("$D")) != std::string::npos;) s.replace(pos, 2, dir);
  return s;
}

class BadConfig : public ::testing::TestWithParam<Row> {};

TEST_P(BadConfig, ReportsExactly) {
  const Row& row = GetParam();
  TempDir dir;
  dir.write("hub.key", key_text(0x11) + "\n", 0600);
  dir.write("open.key", key_text(0x12) + "\n", 0644);
  dir.write("garbage.key", "this is not a key\n", 0600);
  dir.write("short.key", "CQkJCQkJCQkJCQkJCQkJCQ==\n", 0600);
  dir.write("empty.key", "", 0600);
  dir.write("psk/group.key", key_text(0x13) + "\n", 0640);
  dir.mkdir("keydir");
  ASSERT_EQ(::symlink((dir / "hub.key").c_str(), (dir / "link.key").c_str()), 0);
  for (const auto& [rel, content] : row.files) dir.write(rel, substitute(content, dir.path()));
  const std::string path = dir.write("hub.yaml", row.yaml);

  const LoadResult result = load_config_file(path);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.state, nullptr);
  std::vector<std::string> got;
  for (const auto& e : result.errors) got.push_back(e.to_string());
  std::vector<std::string> want;
  for (const auto& e : row.expected) want.push_back(substitute(e, dir.path()));
  EXPECT_EQ(got, want);

  // The same text through load_config_string reports the same lines.
  const LoadResult from_string = load_config_string(row.yaml, path);
  std::vector<std::string> got_string;
  for (const auto& e : from_string.errors) got_string.push_back(e.to_string());
  EXPECT_EQ(got_string, want);
}

INSTANTIATE_TEST_SUITE_P(Table, BadConfig, ::testing::ValuesIn(rows()),
                         [](const ::testing::TestParamInfo<Row>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace wghub::config
