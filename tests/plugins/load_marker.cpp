// A static initializer that appends a line to the file named by SLIMPIPE_TEST_LOAD_MARKER, when that is set.
// Linked into test plugins, it shows whether the loader ran any of a library's code: a plugin refused from its
// .slimpipe_plugin section must leave no line.
#include <cstdlib>
#include <fstream>

namespace {

struct MarkOnLoad {
  MarkOnLoad() {
    if (const char* path = std::getenv("SLIMPIPE_TEST_LOAD_MARKER")) std::ofstream(path, std::ios::app) << "loaded\n";
  }
};

const MarkOnLoad mark_on_load;

}  // namespace
