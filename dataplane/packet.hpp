// Packet headers: the first and last stage of every packet's trip through a
// worker, in four parts:
//   packet_defs.hpp      header constants, LocalAddress, IPv4 checksums
//   packet_classify.hpp  receive: what a frame is, or why it is dropped
//   packet_build.hpp     transmit: the headers prepended to a message or packet
//   packet_inner.hpp     the IP packet inside a decrypted data message
//
// Everything here is inline, allocation-free and branch-light: it runs per
// packet. All addresses and ports are kept in network byte order ("_be")
// exactly as on the wire.
#pragma once

#include "dataplane/packet_build.hpp"
#include "dataplane/packet_classify.hpp"
#include "dataplane/packet_defs.hpp"
#include "dataplane/packet_inner.hpp"
