// pytorch_model.bin: the dict of tensors that Python's torch.save writes, read without Python.
// Both the zip format (torch >= 1.6) and the legacy pickle stream (older BERT checkpoints) are understood.
#pragma once

#include <filesystem>

#include "slimpipe/error.hpp"
#include "slimpipe/export.hpp"
#include "slimpipe/io/tensor_map.hpp"

namespace slimpipe::io {

// Tensors land on the CPU whatever map_location they were saved from. Entries that are not tensors are
// skipped. Throws Error naming the file for a missing, truncated or non-torch.save file, or for pickled
// objects other than (Ordered)dicts, lists, tuples, scalars, strings and tensors.
SLIMPIPE_API TensorMap read_pytorch_bin(const std::filesystem::path& file);

}  // namespace slimpipe::io
