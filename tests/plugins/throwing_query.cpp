// A shared library whose slimpipe_plugin_query throws, to test that the loader refuses it naming the file.
// The entry point is exported as SLIMPIPE_PLUGIN exports it: a Boost.DLL alias.
#include <boost/dll/alias.hpp>
#include <cstdint>
#include <stdexcept>

struct slimpipe_plugin_descriptor;  // the entry point's exact type: the host calls it through this one (UBSan:
                                    // function)

namespace {
const slimpipe_plugin_descriptor* throwing_query(std::uint32_t, std::uint32_t) {
  throw std::runtime_error("boom from the query");
}
}  // namespace

BOOST_DLL_ALIAS(throwing_query, slimpipe_plugin_query)
