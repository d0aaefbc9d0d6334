// glibc malloc settings for processes that train or evaluate tensors (the slimpipe CLI sets them at start).
#pragma once

#include <string>

#include "slimpipe/export.hpp"

namespace slimpipe {

// LibTorch allocates every activation and gradient with malloc. glibc's defaults serve blocks of a few MB or
// more by mmap (the threshold starts at 128 KiB and only rises after such a block is freed) and give freed
// memory at the top of the heap back to the kernel beyond 128 KiB, so a training step that frees and
// re-allocates the same tensors pays a page fault (and a zeroed page) for every 4 KiB of them, every step:
// 782k faults in 10 steps of the 4-layer train-step benchmark, against 250k with these settings, and 8-15%
// of the step's time (docs/training.md). This fixes the mmap threshold at glibc's largest allowed value
// (32 MiB) and keeps up to 1 GiB of freed heap for reuse. Memory already freed stays in the process (RSS
// stays at its peak instead of shrinking between steps); peak memory is unchanged.
//
// Does nothing (and returns a note saying so) when the environment already sets malloc tunables
// (GLIBC_TUNABLES with glibc.malloc, MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_) or the C library is not
// glibc. Returns what it did, for logs.
SLIMPIPE_API std::string tune_allocator_for_tensors();

}  // namespace slimpipe
