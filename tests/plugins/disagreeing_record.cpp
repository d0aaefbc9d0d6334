// A library whose descriptor names another plugin than its .slimpipe_plugin section does: the section passes the
// checks made before loading, the descriptor read after loading must be refused for disagreeing with it.
#include "slimpipe/plugin.hpp"

SLIMPIPE_PLUGIN_SECTION_RECORD("strategy", "record_name")

namespace {

// create and destroy are never reached: the loader refuses the name first.
const slimpipe_plugin_descriptor* disagreeing_query() {
  static const slimpipe_plugin_descriptor desc{sizeof(slimpipe_plugin_descriptor),
                                               SLIMPIPE_DESCRIPTOR_LAYOUT,
                                               SLIMPIPE_BUILD_FINGERPRINT,
                                               "strategy",
                                               "descriptor_name",
                                               "1.0.0",
                                               "test library: its descriptor disagrees with its section",
                                               "{}",
                                               nullptr,
                                               nullptr};
  return &desc;
}

}  // namespace

BOOST_DLL_ALIAS(disagreeing_query, slimpipe_plugin_query)
