// Builds a torch::jit::Module from a TaskModel: parameters registered under flattened module paths, forward()
// compiled from torchscript_source(). The only translation unit of the exporter that includes the jit headers.
#include "slimpipe/export/torchscript_export.hpp"

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/export.h>

#include "slimpipe/error.hpp"
#include "slimpipe/io/checked_file.hpp"
#include "torchscript_names.hpp"

namespace slimpipe::exporter {
namespace {

// c10 messages carry a C++ backtrace on later lines; slimpipe errors are one line.
std::string first_line(const std::string& message) { return message.substr(0, message.find('\n')); }

}  // namespace

void export_torchscript(const nn::TaskModelImpl& model, const std::filesystem::path& path) {
  const std::string arch = nn::architecture_name(model.config().model_type, model.head());
  const std::string source = torchscript_source(model);
  torch::jit::Module module(c10::QualifiedName("slimpipe." + arch));
  try {
    for (const auto& item : model.named_parameters(/*recurse=*/true)) {
      at::Tensor value = item.value().detach().to(at::kCPU, at::kFloat).contiguous().clone();
      module.register_parameter(detail::torchscript_attribute(item.key()), value, /*is_buffer=*/false);
    }
    // What eval() would set; registered by hand because a module built in C++ starts without it.
    module.register_attribute("training", c10::BoolType::get(), false);
    module.define(source);
  } catch (const c10::Error& e) {
    throw Error(path.string() + ": TorchScript export failed: " + first_line(e.what_without_backtrace()));
  }
  // torch's own file writer throws from its destructor when the disk fills (std::terminate). Here torch
  // writes through a function that never fails; the bytes go to a checked file, which reports the first
  // error once torch is done: "<path>: write failed: No space left on device".
  CheckedFile file(path, /*atomic=*/true);
  std::string write_error;
  const auto writer = [&](const void* data, std::size_t size) -> std::size_t {
    if (write_error.empty()) {
      try {
        file.write(data, size);
      } catch (const std::exception& e) {
        write_error = e.what();
      }
    }
    return size;
  };
  try {
    torch::jit::ExportModule(module, writer, {}, /*bytecode_format=*/false, /*save_mobile_debug_info=*/false,
                             /*use_flatbuffer=*/false);
  } catch (const c10::Error& e) {
    file.abandon();
    throw Error(path.string() + ": TorchScript export failed: " + first_line(e.what_without_backtrace()));
  }
  if (!write_error.empty()) throw Error(write_error);
  file.close();
}

}  // namespace slimpipe::exporter
