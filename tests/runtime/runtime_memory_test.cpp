// Steady-state runs of slimpipe_runtime allocate nothing: every heap allocation of the process is counted while
// the runs under test go.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <new>
#include <optional>
#include <utility>
#include <vector>

#include "runtime_test_support.hpp"
#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe_runtime/runtime.hpp"

// Counting every heap allocation of the process while enabled (only around the runs under test): operator new,
// and the C allocator's entry points (oneDNN, OpenBLAS and libgomp allocate through malloc and posix_memalign),
// forwarded to glibc's own implementations. (malloc/free pair correctly here; gcc cannot see that every
// operator new of the program is this one.)
// Under AddressSanitizer (scripts/sanitize.sh) the allocator belongs to ASan: blocks from glibc's own malloc would
// reach ASan's free, which aborts on them. There the counting goes through ASan's own allocation hook instead,
// which sees every allocation (operator new and the malloc family) with its size.
#if defined(__SANITIZE_ADDRESS__)
#define SLIMPIPE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLIMPIPE_TEST_ASAN 1
#endif
#endif
#ifdef SLIMPIPE_TEST_ASAN
// From the sanitizer runtime (sanitizer/allocator_interface.h, which not every compiler package ships).
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, std::size_t),
                                                         void (*free_hook)(const volatile void*));
#endif
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<bool> g_count{false};
std::atomic<long> g_allocs{0};
std::atomic<long> g_large{0};
}  // namespace
namespace {
void count_alloc(std::size_t n) {
  if (g_count.load(std::memory_order_relaxed)) {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
    if (n >= 4096) g_large.fetch_add(1, std::memory_order_relaxed);
  }
}
}  // namespace
#ifdef SLIMPIPE_TEST_ASAN
namespace {
void asan_malloc_hook(const volatile void*, std::size_t n) { count_alloc(n); }
void asan_free_hook(const volatile void*) {}
const int g_asan_hooks = __sanitizer_install_malloc_and_free_hooks(&asan_malloc_hook, &asan_free_hook);
}  // namespace
#else

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void* malloc(std::size_t n) {
  count_alloc(n);
  return __libc_malloc(n);
}
void* calloc(std::size_t a, std::size_t b) {
  count_alloc(a * b);
  return __libc_calloc(a, b);
}
void* realloc(void* p, std::size_t n) {
  count_alloc(n);
  return __libc_realloc(p, n);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  count_alloc(n);
  void* p = __libc_memalign(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
void* aligned_alloc(std::size_t align, std::size_t n) {
  count_alloc(n);
  return __libc_memalign(align, n);
}
void* memalign(std::size_t align, std::size_t n) {
  count_alloc(n);
  return __libc_memalign(align, n);
}
}

void* operator new(std::size_t n) {
  if (void* p = std::malloc(n ? n : 1)) return p;  // counted by malloc
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif  // SLIMPIPE_TEST_ASAN

namespace {

namespace fs = std::filesystem;
using namespace slimpipe;
using namespace slimpipe::runtime_test;
namespace rt = slimpipe_runtime;

// Steady state: once every shape has run, a run allocates nothing (operator new and the malloc family counted,
// whatever library calls them) on the own kernels at every instruction set of this CPU, fp32 and int8. The
// oneDNN kernels are measured too, for the record: oneDNN 2.6 builds its argument map and execution context on
// the heap on every primitive execution, so there the count is bounded per execution and every block small.
TEST(RuntimeMemory, SteadyStateRunsAllocateNothing) {
#ifdef SLIMPIPE_TEST_ASAN
  ASSERT_NE(g_asan_hooks, 0) << "AddressSanitizer refused the allocation hooks";
#endif
  struct Config {
    const char* name;
    bool int8;
    rt::Kernels kernels;
    const char* isa;
  };
  for (const Config& cfg :
       {Config{"fp32 own", false, rt::Kernels::Own, "auto"},
        Config{"fp32 own avx2 (OpenBLAS)", false, rt::Kernels::Own, "avx2"},
        Config{"int8 own", true, rt::Kernels::Own, "auto"}, Config{"int8 own avx2", true, rt::Kernels::Own, "avx2"},
        Config{"int8 own portable", true, rt::Kernels::Own, "portable"},
        Config{"fp32 onednn", false, rt::Kernels::OneDnn, "auto"},
        Config{"int8 onednn", true, rt::Kernels::OneDnn, "auto"}}) {
    const bool int8 = cfg.int8;
    Case c{"alloc", nn::TaskHead::SequenceClassification};
    nn::TaskModel model = make_model(c, 64, 2, 4);
    const fs::path dir = scratch(int8 ? "alloc_int8" : "alloc_fp32");
    if (int8)
      exporter::export_runtime(*model, calibrate(*model, {make_inputs(4, 16, 1)}), dir);
    else
      exporter::export_runtime(*model, dir);
    rt::set_threads(2);
    rt::Options options;
    options.kernels = cfg.kernels;
    options.isa = cfg.isa;
    std::optional<rt::Model> loaded;
    try {
      loaded.emplace(rt::Model::load(dir, options));
    } catch (const rt::Error& e) {
      std::cout << "[ " << cfg.name << " ] not on this CPU: " << e.what() << "\n";
      continue;
    }
    rt::Model& m = *loaded;
    std::vector<std::pair<std::int64_t, std::int64_t>> shapes{{4, 32}, {2, 16}, {1, 7}, {3, 32}};
    std::vector<std::vector<std::int64_t>> ids, types, masks;
    for (auto [b, s] : shapes) {
      auto in = make_inputs(b, s, 3);
      ids.push_back(flat(in.input_ids));
      types.push_back(flat(in.token_type_ids));
      masks.push_back(flat(in.attention_mask));
      m.run(ids.back(), types.back(), masks.back(), b, s);  // first sight of each shape may allocate
    }
    g_allocs = 0;
    g_large = 0;
    g_count = true;
    for (int rep = 0; rep < 3; ++rep)
      for (std::size_t i = 0; i < shapes.size(); ++i)
        m.run(ids[i].data(), types[i].data(), masks[i].data(), shapes[i].first, shapes[i].second);
    g_count = false;
    const std::int64_t gemms = m.info().int8_linears + m.info().fp32_linears;
    // oneDNN executions per run: its Linear GEMMs and two per layer with integer attention.
    const std::int64_t executes =
        cfg.kernels == rt::Kernels::OneDnn ? m.info().onednn_linears + 2 * m.info().int8_attention_layers : 0;
    std::cout << "[ " << cfg.name << " ] kernels " << m.info().kernels << ": heap allocations in 12 steady-state runs ("
              << gemms << " GEMMs each, oneDNN executions " << executes << "): " << g_allocs.load()
              << " (of 4 KiB or more: " << g_large.load() << "); workspace " << m.workspace_bytes() << " bytes\n";
    EXPECT_EQ(g_large.load(), 0);
    if (cfg.kernels == rt::Kernels::Own) {
      EXPECT_EQ(g_allocs.load(), 0);
      EXPECT_EQ(m.info().onednn_linears, 0);
    } else {
      EXPECT_LE(g_allocs.load(), 12 * 16 * executes);
    }
  }
}

}  // namespace
