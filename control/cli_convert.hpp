// `wghub import` and `wghub export`: the command-line side of the wg-quick
// converter (config/wgquick.hpp). main() hands over argv with argv[0] being
// the subcommand name; each returns the process exit status (0 ok, 1 bad
// input or a failed write, 2 usage error).
#pragma once

namespace wghub::ctl {

// wghub import WG-QUICK.CONF [--output DIR] [--wan-devargs ...] ...
int run_import(int argc, char** argv);

// wghub export --config WGHUB.YAML [--output FILE] [--include-private-key]
int run_export(int argc, char** argv);

}  // namespace wghub::ctl
