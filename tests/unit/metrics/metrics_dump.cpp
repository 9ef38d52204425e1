// The exporter on the hand-built inputs of fixture.hpp, for
// check_exposition.py to parse with a real Prometheus text-format parser.
//   metrics_dump           prints the exposition (exposition()) to stdout
//   metrics_dump --serve   serves it with MetricsExporter on 127.0.0.1 (a
//                          free port), prints "port N", and runs until its
//                          stdin closes
#include <cstdio>
#include <iostream>
#include <string>

#include "tests/unit/metrics/fixture.hpp"

int main(int argc, char** argv) {
  using namespace wghub::ctl;
  testing::MetricsFixture fx;
  if (argc > 1 && std::string(argv[1]) == "--serve") {
    std::string error;
    auto exporter = MetricsExporter::start("127.0.0.1:0", fx.lcores, {}, error);
    if (exporter == nullptr) {
      std::cerr << error << "\n";
      return 1;
    }
    exporter->publish(fx.snapshot);
    std::cout << "port " << exporter->port() << std::endl;
    while (std::getchar() != EOF) {
    }
    return 0;
  }
  std::cout << exposition(fx.lcores, fx.snapshot.get());
  return 0;
}
