// Config errors as values: where (file, 1-based line and column, field path)
// and what, formatted one per line the way compilers do so editors can jump
// to them.
#pragma once

#include <string>

namespace wghub::config {

// A place in a config file. line == 0 means "the file as a whole".
struct Location {
  std::string file;
  int line = 0;
  int column = 0;

  // "file:line:column", or just "file" without a line.
  std::string to_string() const;
};

struct ConfigError {
  std::string file;
  int line = 0;       // 1-based; 0 when the error concerns the whole file
  int column = 0;     // 1-based
  std::string field;  // "peers[2].allowed_ips[1]", "interface.listen_port"; may be empty
  std::string message;

  // "<file>:<line>:<column>: <field>: <message>" (parts that are unknown are left out).
  std::string to_string() const;
};

}  // namespace wghub::config
