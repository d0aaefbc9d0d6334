// The instance DAG as Graphviz DOT or Mermaid text, for `slimpipe graph`.
#pragma once

#include <string>

#include "slimpipe/core/plan.hpp"

namespace slimpipe::core {

std::string to_dot(const PipelineSpec& spec, const Plan& plan);
std::string to_mermaid(const PipelineSpec& spec, const Plan& plan);

}  // namespace slimpipe::core
