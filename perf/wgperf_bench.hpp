// wgperf's test bed: a real wghub::ctl::Hub on two net_ring ports whose rings
// wgperf holds, M simulated sites with real sessions, the traffic streams of
// each engine, and the measurement of one point (engine x size).
//
//   generator ──fill──► WAN rx ring(s) ─► hub worker(s) ─► WAN tx ring ──drain──► free
//   generator ──fill──► LAN rx ring(s) ─►                ─► LAN tx ring ──drain──► free
//
// The hub, its ports and rings, and the neighbours it asks for are
// perfsim::RingBed (perf/sim/ring_bed.hpp), the bed the pipeline tests use
// too; each tx queue has a ring of its own, as a NIC has.
//
// Sites sit behind the WAN gateway (198.18.0.0/15 outer addresses, one
// ARP entry for all); site i owns 10.(1+i/256).(i%256).0/24; the HQ host is
// 10.0.0.10 on the LAN, a second LAN host 10.0.0.20 (the io engine).
//
// Streams are built once per point: every frame is written into a store
// (pre-encrypted for decap/hubfwd with increasing counters per site), then
// copied into fresh mbufs at fill time. When a stream has used every frame,
// the sites re-encrypt the whole store with the next counters (each counter
// passes the replay window once).
#pragma once

#include <rte_mempool.h>
#include <rte_ring.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "control/hub.hpp"
#include "dataplane/lcore_stats.hpp"
#include "perf/sim/ring_bed.hpp"
#include "perf/sim/sim_peer.hpp"
#include "perf/wgperf_options.hpp"

namespace wghub::perf {

struct LcoreFigures {
  unsigned lcore = 0;
  dp::LcoreStats delta;  // counters over the measured window
  double seconds = 0;    // worker time (step) or wall time (lcore)
  std::uint64_t cycles = 0;
  double mpps = 0, gbps_inner = 0, gbps_wire = 0, cycles_per_packet = 0;
  std::uint64_t received = 0, forwarded = 0, dropped = 0;
  double raw_mpps = 0;  // IPsec-MB alone on this lcore (0: not applicable)
  // Step mode: worker Mpps / raw Mpps where raw AEAD ran right after each
  // round of the worker on as many packets, so both saw the same machine
  // (preempted rounds left out; wgperf_measure.cpp, paired()).
  // 0: report mpps / raw_mpps.
  double paired_ratio = 0;
  double ratio() const {
    return paired_ratio > 0 ? paired_ratio : raw_mpps > 0 ? mpps / raw_mpps : 0;
  }
};

struct PointResult {
  Engine engine = Engine::kDecap;
  unsigned size = 0;
  LcoreFigures total;                   // summed over lcores (raw: their mean)
  std::vector<LcoreFigures> per_lcore;  // lcore mode only
  double mpps_min = 0, mpps_max = 0;    // over the repetitions
  double gen_limited = 0;               // lcore mode: share of fills that found an rx ring empty
  std::string drops_text;               // "none" or "reason=n ..."
  std::string check_error;              // empty when the counters add up
  // handshake engine
  std::uint64_t handshakes = 0, cookies = 0;
  double handshakes_per_s = 0, cycles_per_handshake = 0;
  double cookies_per_s = 0, cycles_per_cookie = 0;  // one worker, under load
  double x25519_cycles = 0;           // one X25519 on this core, timed in the same run
  std::uint64_t control_cookies = 0;  // answered by the control thread (queued before)
  double control_cycles_per_cookie = 0;
};

class Testbed {
 public:
  // EAL must be started (with lcores 1..N for lcore mode). Builds the hub,
  // the sites and their sessions; nullptr with `error` on failure.
  static std::unique_ptr<Testbed> create(const Options& options, std::string& error);
  ~Testbed();
  Testbed(const Testbed&) = delete;
  Testbed& operator=(const Testbed&) = delete;

  // One measurement of one point.
  PointResult run(Engine engine, unsigned size);
  std::string aead_name() const;
  double setup_seconds() const { return setup_seconds_; }

 private:
  struct Stream;

  explicit Testbed(const Options& options) : options_(options) {}
  bool build(std::string& error);
  bool establish(std::string& error);

  // Stepping with the control thread, ARP answered, until nothing moves;
  // WAN frames that are not ARP are kept in `captured` when given.
  void settle(std::vector<perfsim::Bytes>* captured = nullptr);
  void inject(unsigned port, const perfsim::Bytes& frame);
  // Frees what the hub transmitted, answering ARP requests; WAN frames that
  // are not ARP are kept in `captured` when given. Returns frames freed.
  unsigned drain(std::vector<perfsim::Bytes>* captured = nullptr);

  std::unique_ptr<Stream> make_stream(Engine engine, unsigned size);
  void reseal(Stream& s);
  unsigned fill(Stream& s, unsigned n);

  PointResult measure_step(Engine engine, Stream& s);
  PointResult measure_lcores(Engine engine, Stream& s);
  PointResult measure_drain(Engine engine, Stream& s);
  // wgperf_drain.cpp: rounds of refill() then N workers emptying `rx`.
  PointResult drain_rounds(Engine engine, unsigned size, unsigned stats_port,
                           const std::vector<rte_ring*>& rx, const std::function<void()>& refill);
  unsigned rx_ring_size() const;
  unsigned tx_ring_size() const;
  PointResult measure_handshake();
  void finish(PointResult& r, Engine engine, const Stream& s);

  Options options_;
  perfsim::RingBed bed_;
  rte_mempool* pool_ = nullptr;  // bed_'s
  ctl::Hub* hub_ = nullptr;      // bed_'s
  std::vector<std::unique_ptr<perfsim::SimPeer>> sites_;
  std::unique_ptr<crypto::AeadBackend> site_aead_;  // the sites' sealing (generator)
  std::vector<std::uint64_t> site_counters_;        // each site's next data counter
  double setup_seconds_ = 0;
};

// Raw IPsec-MB ChaCha20-Poly1305 on the calling core: bursts of `burst`
// packets with the padded lengths of `size`, one key per packet; open,
// seal, or both per packet (hubfwd).
class RawAead {
 public:
  RawAead(Engine engine, unsigned size, unsigned burst);
  bool applicable() const { return open_ || seal_; }
  // Whole bursts covering at least `packets`; adds the packets done and the
  // cycles spent in the AEAD calls (ciphertext restored outside them).
  void run(std::uint64_t packets, std::uint64_t& done, std::uint64_t& cycles);
  // Decap: every open authenticated (the reference really decrypted).
  bool all_opened() const;

 private:
  std::unique_ptr<crypto::AeadBackend> aead_;
  bool open_ = false, seal_ = false;
  std::vector<std::uint8_t> data_, sealed_, tags_, keys_;
  std::vector<crypto::AeadOp> ops_;
};

// RawAead for `seconds` of AEAD time. Mpps.
double raw_aead_mpps(Engine engine, unsigned size, unsigned burst, double seconds);

// raw_aead_mpps on a worker lcore (rte_eal_remote_launch(raw_on_lcore, &args, lcore)).
struct RawArgs {
  Engine engine;
  unsigned size;
  double seconds;
  double mpps = 0;
};
int raw_on_lcore(void* arg);

}  // namespace wghub::perf
