// How module paths become TorchScript attribute names (attributes cannot contain '.').
// Shared by the source generator and the module builder so the two always agree.
#pragma once

#include <string>

namespace slimpipe::exporter::detail {

inline std::string torchscript_attribute(std::string module_path) {
  for (char& c : module_path)
    if (c == '.') c = '_';
  return module_path;
}

}  // namespace slimpipe::exporter::detail
