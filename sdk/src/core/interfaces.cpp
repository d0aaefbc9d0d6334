// Out-of-line anchors for the SDK's polymorphic classes, so that their vtables and type_info live
// in libslimpipe_sdk.so once and are shared by the host and every plugin (the error classes: core/error.cpp,
// in libslimpipe_text.so).
#include "slimpipe/context.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/strategy.hpp"

namespace slimpipe {

Logger::~Logger() = default;
Progress::~Progress() = default;
Context::~Context() = default;
Strategy::~Strategy() = default;

void Context::throw_if_cancelled() const {
  if (cancelled()) throw Cancelled();
}

std::vector<std::string> Strategy::outputs(const Params&) const { return {""}; }

}  // namespace slimpipe
