// Running the hub: start EAL, open the WAN and LAN ports, build the shared
// tables, apply the desired state, launch one worker per configured lcore and
// run the control thread on the main lcore until SIGINT/SIGTERM.
#pragma once

#include <memory>
#include <string>

#include "config/model.hpp"

namespace wghub::ctl {

struct HubOptions {
  bool busy_poll = false;           // workers never sleep when idle
  unsigned status_interval_s = 10;  // status line period; 0 = off
  std::string extra_eal_args;       // appended to the EAL command line
};

// Returns the process exit code: 0 after a clean stop, 1 when the hub could
// not start (the reason is printed).
int run_hub(std::shared_ptr<const config::DesiredState> state, const HubOptions& options);

}  // namespace wghub::ctl
