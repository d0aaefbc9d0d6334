// Checkpoint key names <-> slimpipe module paths. transformers prefixes the encoder with "bert." / "ernie."
// in task models (not in bare BertModel files) and old checkpoints name LayerNorm parameters gamma / beta.
#pragma once

#include <string>

#include "slimpipe/export.hpp"

namespace slimpipe::io {

// "bert.encoder.layer.0.attention.output.LayerNorm.gamma" -> "encoder.layer.0.attention.output.LayerNorm.weight";
// "classifier.weight" stays. Any of the "bert." / "ernie." prefixes is removed, whatever the model_type.
SLIMPIPE_API std::string canonical_key(const std::string& checkpoint_key);

// The prefix ("bert." / "ernie.") of encoder keys in a checkpoint of this model type: transformers uses it in
// task models and omits it in bare models.
SLIMPIPE_API std::string encoder_prefix(const std::string& model_type, bool task_model);

// "encoder.layer.0...." -> "<prefix>encoder.layer.0...."; head keys ("classifier.", "qa_outputs.") unchanged.
SLIMPIPE_API std::string checkpoint_key(const std::string& canonical, const std::string& prefix);

// Keys transformers stores that are not parameters (position_ids buffers) or belong to heads slimpipe
// does not model (MLM / NSP "cls." heads): ignored on load.
SLIMPIPE_API bool is_ignored_key(const std::string& canonical);

}  // namespace slimpipe::io
