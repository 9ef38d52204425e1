// Default randomness for IndexTable (index_table.hpp): session indices come from
// the CSPRNG (crypto/random.hpp), as the kernel draws them with get_random_u32().
#include "control/index_table.hpp"

#include "crypto/random.hpp"

namespace wghub::ctl {

uint32_t secure_random_index() {
  return crypto::fast_random_value<uint32_t>();
}

}  // namespace wghub::ctl
