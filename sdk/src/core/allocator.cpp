// tune_allocator_for_tensors (slimpipe/allocator.hpp).
#include "slimpipe/allocator.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace slimpipe {

std::string tune_allocator_for_tensors() {
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables && std::strstr(tunables, "glibc.malloc.")) || std::getenv("MALLOC_MMAP_THRESHOLD_") ||
      std::getenv("MALLOC_TRIM_THRESHOLD_"))
    return "malloc: left as the environment sets it";
  constexpr int kMmapThreshold = 32 << 20;  // glibc refuses more than HEAP_MAX_SIZE / 2 = 32 MiB on 64-bit
  constexpr int kTrimThreshold = 1 << 30;
  const bool ok = mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
  return ok ? "malloc: mmap threshold 32 MiB, trim threshold 1 GiB"
            : "malloc: glibc refused the settings; defaults kept";
#else
  return "malloc: not glibc; defaults kept";
#endif
}

}  // namespace slimpipe
