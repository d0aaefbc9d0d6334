// Turning start/end logits back into answer text: QaAnswerDecoder, the n-best span search over every window of an
// example, lives in qa_spans.hpp (LibTorch-free, shared with the runtime's Reader); a QaFeature is the window it
// takes.
#pragma once

#include "slimpipe/tasks/qa_features.hpp"
#include "slimpipe/tasks/qa_spans.hpp"
