// Builds a torch::jit::Module from a TaskModel: parameters registered under flattened module paths, forward()
// compiled from torchscript_source(). The only translation unit of the exporter that includes the jit headers.
#include "slimpipe/export/torchscript_export.hpp"

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/export.h>

#include "slimpipe/error.hpp"
#include "torchscript_names.hpp"

namespace slimpipe::exporter {
namespace {

// c10 messages carry a C++ backtrace on later lines; slimpipe errors are one line.
std::string first_line(const std::string& message) { return message.substr(0, message.find('\n')); }

}  // namespace

void export_torchscript(const nn::TaskModelImpl& model, const std::filesystem::path& path) {
  const std::string arch = nn::architecture_name(model.config().model_type, model.head());
  const std::string source = torchscript_source(model);
  try {
    torch::jit::Module module(c10::QualifiedName("slimpipe." + arch));
    for (const auto& item : model.named_parameters(/*recurse=*/true)) {
      at::Tensor value = item.value().detach().to(at::kCPU, at::kFloat).contiguous().clone();
      module.register_parameter(detail::torchscript_attribute(item.key()), value, /*is_buffer=*/false);
    }
    // What eval() would set; registered by hand because a module built in C++ starts without it.
    module.register_attribute("training", c10::BoolType::get(), false);
    module.define(source);
    module.save(path.string());
  } catch (const c10::Error& e) {
    throw Error(path.string() + ": TorchScript export failed: " + first_line(e.what_without_backtrace()));
  }
}

}  // namespace slimpipe::exporter
