// Out-of-line anchor for Composite, so its vtable lives in libslimpipe_sdk.so.
#include "slimpipe/composite.hpp"

namespace slimpipe {

Composite::~Composite() = default;

}  // namespace slimpipe
