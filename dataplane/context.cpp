#include "dataplane/context.hpp"

namespace wghub::dp {

namespace {

int g_control_meta_offset = -1;

}  // namespace

bool register_control_meta() {
  if (g_control_meta_offset >= 0) return true;
  static const rte_mbuf_dynfield kField = {"wghub_control_meta", sizeof(ControlMeta),
                                           alignof(ControlMeta), 0};
  g_control_meta_offset = rte_mbuf_dynfield_register(&kField);
  return g_control_meta_offset >= 0;
}

ControlMeta& control_meta(rte_mbuf* m) {
  return *RTE_MBUF_DYNFIELD(m, g_control_meta_offset, ControlMeta*);
}

}  // namespace wghub::dp
