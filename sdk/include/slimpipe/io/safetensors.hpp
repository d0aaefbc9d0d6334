// safetensors read and write: 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the raw little-endian tensor bytes.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "slimpipe/error.hpp"
#include "slimpipe/export.hpp"
#include "slimpipe/io/tensor_map.hpp"

namespace slimpipe::io {

// Reads every tensor into CPU memory. Dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL.
// Throws Error naming the file for a missing or truncated file, a header that is not JSON,
// an unsupported dtype, or data_offsets that do not match the shape or leave the data section.
SLIMPIPE_API TensorMap read_safetensors(const std::filesystem::path& file);

// Writes `tensors` (any device, any layout; stored contiguous) with `metadata` in "__metadata__".
// transformers refuses files whose metadata lacks format = "pt", hence the default.
SLIMPIPE_API void write_safetensors(const std::filesystem::path& file, const TensorMap& tensors,
                                    const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace slimpipe::io
