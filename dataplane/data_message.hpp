// Framing a data message in place (whitepaper 5.4.6): the mbuf holds the
// inner packet; it grows a 16-byte header in front (type 4, the peer's
// receiver index, the counter) and zero padding plus room for the tag behind,
// and the returned AeadOp seals the padded plaintext. The workers queue the op
// for a burst; the control thread (keepalives, packets that waited for a
// handshake) seals it at once.
#pragma once

#include <rte_mbuf.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "crypto/aead.hpp"
#include "dataplane/drop_reason.hpp"
#include "dataplane/keypair.hpp"
#include "dataplane/messages.hpp"

namespace wghub::dp {

// `mtu` is the tunnel MTU the plaintext is padded against. On success `op`
// points into the mbuf; kNoHeadroom (or kNoMbuf for a chain that cannot be
// made linear) leaves the mbuf for the caller to drop.
inline DropReason frame_data_message(rte_mbuf* m, const Keypair& kp, std::uint64_t counter,
                                     std::uint32_t mtu, crypto::AeadOp& op) {
  if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) return DropReason::kNoMbuf;
  const std::uint32_t plain = m->pkt_len;
  const auto padded =
      static_cast<std::uint32_t>(padded_length(plain, std::max<std::uint32_t>(plain, mtu)));
  auto* tail = reinterpret_cast<std::uint8_t*>(
      rte_pktmbuf_append(m, static_cast<std::uint16_t>(padded - plain + kAuthTagLen)));
  if (tail == nullptr) return DropReason::kNoHeadroom;
  auto* hdr = reinterpret_cast<MessageDataHeader*>(rte_pktmbuf_prepend(m, kMessageDataHeaderSize));
  if (hdr == nullptr) return DropReason::kNoHeadroom;
  std::memset(tail, 0, padded - plain);
  *hdr = MessageDataHeader{};
  hdr->header.set_type(MessageType::kData);
  hdr->receiver_index.set(kp.remote_index);
  hdr->counter.set(counter);
  op = crypto::AeadOp{};
  op.key = kp.send_key;
  op.counter = counter;
  op.data = reinterpret_cast<std::uint8_t*>(hdr + 1);
  op.len = padded;
  op.tag = op.data + padded;
  return DropReason::kNone;
}

}  // namespace wghub::dp
