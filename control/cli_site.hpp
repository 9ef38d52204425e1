// `wghub site add|list|show|rotate|revoke`: onboarding sites on the YAML /
// peers_dir store (docs/config.md "sites", README "Adding a site"). main()
// hands over argv with argv[0] == "site"; returns the exit status (0 done,
// 1 refused or failed, 2 usage error).
#pragma once

namespace wghub::ctl {

int run_site(int argc, char** argv);

}  // namespace wghub::ctl
