// Loading a strategy's input model for the pipeline's task.
#include "slimpipe/tasks/input_model.hpp"

#include "slimpipe/error.hpp"

namespace slimpipe::tasks {

io::LoadedModel load_input_model(const std::vector<Artifact>& inputs, const Task& task, const std::string& device,
                                 const std::string& plugin) {
  if (inputs.size() != 1)
    throw Error(plugin + ": expected one input model artifact, got " + std::to_string(inputs.size()));
  const std::filesystem::path dir = inputs[0].dir();
  if (!std::filesystem::exists(dir / "config.json"))
    throw Error(dir.string() + ": no config.json (" + plugin + " expects an HF model folder: config.json + " +
                "model.safetensors or pytorch_model.bin + vocab.txt)");
  const HeadSpec head = task.head();
  io::LoadOptions options;
  options.head = head.head;
  options.device = device;
  io::LoadedModel loaded = io::load_model(dir, options);
  if (loaded.config.num_labels != head.num_labels)
    throw Error(dir.string() + "/config.json: num_labels " + std::to_string(loaded.config.num_labels) +
                " but the task has " + std::to_string(head.num_labels) + " labels");
  return loaded;
}

}  // namespace slimpipe::tasks
