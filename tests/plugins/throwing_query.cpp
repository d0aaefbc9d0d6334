// A shared library whose slimpipe_plugin_query throws, to test that the loader refuses it naming the file. Its
// .slimpipe_plugin section is that of a valid plugin, so the loader gets as far as calling the entry point, which
// is exported as SLIMPIPE_PLUGIN exports it: a Boost.DLL alias of the exact type the host calls (UBSan: function).
#include <stdexcept>

#include "slimpipe/plugin.hpp"

SLIMPIPE_PLUGIN_SECTION_RECORD("strategy", "throwing_query")

namespace {
const slimpipe_plugin_descriptor* throwing_query() { throw std::runtime_error("boom from the query"); }
}  // namespace

BOOST_DLL_ALIAS(throwing_query, slimpipe_plugin_query)
