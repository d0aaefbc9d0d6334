// Out-of-line anchors of the error classes, so that their vtables and type_info live once, in
// libslimpipe_text.so (the torch-free base library the SDK and the runtime both link), and an Error thrown
// in one library is caught as such in every other.
#include "slimpipe/error.hpp"

namespace slimpipe {

Error::~Error() = default;
Cancelled::~Cancelled() = default;
UsageError::~UsageError() = default;

}  // namespace slimpipe
