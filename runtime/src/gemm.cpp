#include "gemm.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe_runtime::detail {

#define SLIMPIPE_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define SLIMPIPE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define SLIMPIPE_AVX2 __attribute__((target("avx2")))

namespace {

constexpr int kMr = 6;   // rows per tile, integer paths
constexpr int kMrF = 8;  // rows per tile, fp32
// At most this many rows of A are kept in cache while a thread walks its panels: every chunk streams the whole
// packed B once, so chunks are as large as L2 allows and balanced (128 rows: one chunk, not 96 + 32).
constexpr std::int64_t kRowChunk = 240;

std::int64_t nr_of(PackKind kind, GemmIsa isa) {
  if (kind == PackKind::F32) return 48;
  return isa == GemmIsa::Avx512Vnni ? 64 : 16;
}
std::int64_t kgroup_of(PackKind kind, GemmIsa isa) {
  if (kind == PackKind::F32) return 1;
  return isa == GemmIsa::Avx512Vnni ? 4 : 2;
}
std::int64_t elem_bytes(PackKind kind, GemmIsa isa) {
  if (kind == PackKind::F32) return 4;
  return isa == GemmIsa::Avx512Vnni ? 1 : 2;
}
std::size_t round64(std::size_t n) { return (n + 63) / 64 * 64; }

// ---- micro-kernels: one tile of MR rows x one panel, accumulators written to `tile` [MR][nr] ----

inline std::int32_t load_i32(const void* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Micro-kernels: one tile of MR (<= 6) rows x one 64-column panel over a block of k; the accumulators start at
// zero or, with `accumulate`, at the tile's values ([MR][64], written back at the end). They are named variables
// written out for 6 rows: GCC keeps an array of vectors in memory, spilling on every step.
// VNNI: `steps` groups of 4 k; the last group of a row may read up to 3 bytes past it (gemm.hpp), times the zeros
// packed beyond K.
template <int MR>
SLIMPIPE_VNNI void tile_vnni(const std::uint8_t* A, std::int64_t lda, std::int64_t steps, const std::byte* panel,
                             std::int32_t* tile, bool accumulate) {
  const __m512i zero = _mm512_setzero_si512();
  __m512i c00 = zero, c01 = zero, c02 = zero, c03 = zero;
  __m512i c10 = zero, c11 = zero, c12 = zero, c13 = zero;
  __m512i c20 = zero, c21 = zero, c22 = zero, c23 = zero;
  __m512i c30 = zero, c31 = zero, c32 = zero, c33 = zero;
  __m512i c40 = zero, c41 = zero, c42 = zero, c43 = zero;
  __m512i c50 = zero, c51 = zero, c52 = zero, c53 = zero;
  if (accumulate) {
    if constexpr (MR > 0) {
      c00 = _mm512_loadu_si512(tile + 0);
      c01 = _mm512_loadu_si512(tile + 16);
      c02 = _mm512_loadu_si512(tile + 32);
      c03 = _mm512_loadu_si512(tile + 48);
    }
    if constexpr (MR > 1) {
      c10 = _mm512_loadu_si512(tile + 64);
      c11 = _mm512_loadu_si512(tile + 80);
      c12 = _mm512_loadu_si512(tile + 96);
      c13 = _mm512_loadu_si512(tile + 112);
    }
    if constexpr (MR > 2) {
      c20 = _mm512_loadu_si512(tile + 128);
      c21 = _mm512_loadu_si512(tile + 144);
      c22 = _mm512_loadu_si512(tile + 160);
      c23 = _mm512_loadu_si512(tile + 176);
    }
    if constexpr (MR > 3) {
      c30 = _mm512_loadu_si512(tile + 192);
      c31 = _mm512_loadu_si512(tile + 208);
      c32 = _mm512_loadu_si512(tile + 224);
      c33 = _mm512_loadu_si512(tile + 240);
    }
    if constexpr (MR > 4) {
      c40 = _mm512_loadu_si512(tile + 256);
      c41 = _mm512_loadu_si512(tile + 272);
      c42 = _mm512_loadu_si512(tile + 288);
      c43 = _mm512_loadu_si512(tile + 304);
    }
    if constexpr (MR > 5) {
      c50 = _mm512_loadu_si512(tile + 320);
      c51 = _mm512_loadu_si512(tile + 336);
      c52 = _mm512_loadu_si512(tile + 352);
      c53 = _mm512_loadu_si512(tile + 368);
    }
  }
  const auto* bp = reinterpret_cast<const std::int8_t*>(panel);
  for (std::int64_t q = 0; q < steps; ++q, bp += 256) {
    const __m512i b0 = _mm512_load_si512(bp), b1 = _mm512_load_si512(bp + 64), b2 = _mm512_load_si512(bp + 128),
                  b3 = _mm512_load_si512(bp + 192);
    if constexpr (MR > 0) {
      const __m512i a = _mm512_set1_epi32(load_i32(A + 0 * lda + 4 * q));
      c00 = _mm512_dpbusd_epi32(c00, a, b0);
      c01 = _mm512_dpbusd_epi32(c01, a, b1);
      c02 = _mm512_dpbusd_epi32(c02, a, b2);
      c03 = _mm512_dpbusd_epi32(c03, a, b3);
    }
    if constexpr (MR > 1) {
      const __m512i a = _mm512_set1_epi32(load_i32(A + 1 * lda + 4 * q));
      c10 = _mm512_dpbusd_epi32(c10, a, b0);
      c11 = _mm512_dpbusd_epi32(c11, a, b1);
      c12 = _mm512_dpbusd_epi32(c12, a, b2);
      c13 = _mm512_dpbusd_epi32(c13, a, b3);
    }
    if constexpr (MR > 2) {
      const __m512i a = _mm512_set1_epi32(load_i32(A + 2 * lda + 4 * q));
      c20 = _mm512_dpbusd_epi32(c20, a, b0);
      c21 = _mm512_dpbusd_epi32(c21, a, b1);
      c22 = _mm512_dpbusd_epi32(c22, a, b2);
      c23 = _mm512_dpbusd_epi32(c23, a, b3);
    }
    if constexpr (MR > 3) {
      const __m512i a = _mm512_set1_epi32(load_i32(A + 3 * lda + 4 * q));
      c30 = _mm512_dpbusd_epi32(c30, a, b0);
      c31 = _mm512_dpbusd_epi32(c31, a, b1);
      c32 = _mm512_dpbusd_epi32(c32, a, b2);
      c33 = _mm512_dpbusd_epi32(c33, a, b3);
    }
    if constexpr (MR > 4) {
      const __m512i a = _mm512_set1_epi32(load_i32(A + 4 * lda + 4 * q));
      c40 = _mm512_dpbusd_epi32(c40, a, b0);
      c41 = _mm512_dpbusd_epi32(c41, a, b1);
      c42 = _mm512_dpbusd_epi32(c42, a, b2);
      c43 = _mm512_dpbusd_epi32(c43, a, b3);
    }
    if constexpr (MR > 5) {
      const __m512i a = _mm512_set1_epi32(load_i32(A + 5 * lda + 4 * q));
      c50 = _mm512_dpbusd_epi32(c50, a, b0);
      c51 = _mm512_dpbusd_epi32(c51, a, b1);
      c52 = _mm512_dpbusd_epi32(c52, a, b2);
      c53 = _mm512_dpbusd_epi32(c53, a, b3);
    }
  }
  if constexpr (MR > 0) {
    _mm512_storeu_si512(tile + 0, c00);
    _mm512_storeu_si512(tile + 16, c01);
    _mm512_storeu_si512(tile + 32, c02);
    _mm512_storeu_si512(tile + 48, c03);
  }
  if constexpr (MR > 1) {
    _mm512_storeu_si512(tile + 64, c10);
    _mm512_storeu_si512(tile + 80, c11);
    _mm512_storeu_si512(tile + 96, c12);
    _mm512_storeu_si512(tile + 112, c13);
  }
  if constexpr (MR > 2) {
    _mm512_storeu_si512(tile + 128, c20);
    _mm512_storeu_si512(tile + 144, c21);
    _mm512_storeu_si512(tile + 160, c22);
    _mm512_storeu_si512(tile + 176, c23);
  }
  if constexpr (MR > 3) {
    _mm512_storeu_si512(tile + 192, c30);
    _mm512_storeu_si512(tile + 208, c31);
    _mm512_storeu_si512(tile + 224, c32);
    _mm512_storeu_si512(tile + 240, c33);
  }
  if constexpr (MR > 4) {
    _mm512_storeu_si512(tile + 256, c40);
    _mm512_storeu_si512(tile + 272, c41);
    _mm512_storeu_si512(tile + 288, c42);
    _mm512_storeu_si512(tile + 304, c43);
  }
  if constexpr (MR > 5) {
    _mm512_storeu_si512(tile + 320, c50);
    _mm512_storeu_si512(tile + 336, c51);
    _mm512_storeu_si512(tile + 352, c52);
    _mm512_storeu_si512(tile + 368, c53);
  }
}

// fp32: `steps` values of k; a tile of MR (<= 8) rows x 48 columns (3 zmm per row, 24 accumulators), A's rows
// lda floats apart, the tile's rows ldt floats apart (the output itself where a panel is whole). (Packing A
// gained nothing measurable and cost each thread a pass over A.)
template <int MR>
SLIMPIPE_AVX512 void tile_f32(const float* A, std::int64_t lda, std::int64_t steps, const std::byte* panel, float* tile,
                              std::int64_t ldt, bool accumulate) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 c00 = zero, c01 = zero, c02 = zero;
  __m512 c10 = zero, c11 = zero, c12 = zero;
  __m512 c20 = zero, c21 = zero, c22 = zero;
  __m512 c30 = zero, c31 = zero, c32 = zero;
  __m512 c40 = zero, c41 = zero, c42 = zero;
  __m512 c50 = zero, c51 = zero, c52 = zero;
  __m512 c60 = zero, c61 = zero, c62 = zero;
  __m512 c70 = zero, c71 = zero, c72 = zero;
  if (accumulate) {
    if constexpr (MR > 0) {
      c00 = _mm512_loadu_ps(tile + 0 * ldt + 0);
      c01 = _mm512_loadu_ps(tile + 0 * ldt + 16);
      c02 = _mm512_loadu_ps(tile + 0 * ldt + 32);
    }
    if constexpr (MR > 1) {
      c10 = _mm512_loadu_ps(tile + 1 * ldt + 0);
      c11 = _mm512_loadu_ps(tile + 1 * ldt + 16);
      c12 = _mm512_loadu_ps(tile + 1 * ldt + 32);
    }
    if constexpr (MR > 2) {
      c20 = _mm512_loadu_ps(tile + 2 * ldt + 0);
      c21 = _mm512_loadu_ps(tile + 2 * ldt + 16);
      c22 = _mm512_loadu_ps(tile + 2 * ldt + 32);
    }
    if constexpr (MR > 3) {
      c30 = _mm512_loadu_ps(tile + 3 * ldt + 0);
      c31 = _mm512_loadu_ps(tile + 3 * ldt + 16);
      c32 = _mm512_loadu_ps(tile + 3 * ldt + 32);
    }
    if constexpr (MR > 4) {
      c40 = _mm512_loadu_ps(tile + 4 * ldt + 0);
      c41 = _mm512_loadu_ps(tile + 4 * ldt + 16);
      c42 = _mm512_loadu_ps(tile + 4 * ldt + 32);
    }
    if constexpr (MR > 5) {
      c50 = _mm512_loadu_ps(tile + 5 * ldt + 0);
      c51 = _mm512_loadu_ps(tile + 5 * ldt + 16);
      c52 = _mm512_loadu_ps(tile + 5 * ldt + 32);
    }
    if constexpr (MR > 6) {
      c60 = _mm512_loadu_ps(tile + 6 * ldt + 0);
      c61 = _mm512_loadu_ps(tile + 6 * ldt + 16);
      c62 = _mm512_loadu_ps(tile + 6 * ldt + 32);
    }
    if constexpr (MR > 7) {
      c70 = _mm512_loadu_ps(tile + 7 * ldt + 0);
      c71 = _mm512_loadu_ps(tile + 7 * ldt + 16);
      c72 = _mm512_loadu_ps(tile + 7 * ldt + 32);
    }
  }
  const auto* bp = reinterpret_cast<const float*>(panel);
  for (std::int64_t q = 0; q < steps; ++q, bp += 48) {
    const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16), b2 = _mm512_load_ps(bp + 32);
    if constexpr (MR > 0) {
      const __m512 a = _mm512_set1_ps(A[0 * lda + q]);
      c00 = _mm512_fmadd_ps(a, b0, c00);
      c01 = _mm512_fmadd_ps(a, b1, c01);
      c02 = _mm512_fmadd_ps(a, b2, c02);
    }
    if constexpr (MR > 1) {
      const __m512 a = _mm512_set1_ps(A[1 * lda + q]);
      c10 = _mm512_fmadd_ps(a, b0, c10);
      c11 = _mm512_fmadd_ps(a, b1, c11);
      c12 = _mm512_fmadd_ps(a, b2, c12);
    }
    if constexpr (MR > 2) {
      const __m512 a = _mm512_set1_ps(A[2 * lda + q]);
      c20 = _mm512_fmadd_ps(a, b0, c20);
      c21 = _mm512_fmadd_ps(a, b1, c21);
      c22 = _mm512_fmadd_ps(a, b2, c22);
    }
    if constexpr (MR > 3) {
      const __m512 a = _mm512_set1_ps(A[3 * lda + q]);
      c30 = _mm512_fmadd_ps(a, b0, c30);
      c31 = _mm512_fmadd_ps(a, b1, c31);
      c32 = _mm512_fmadd_ps(a, b2, c32);
    }
    if constexpr (MR > 4) {
      const __m512 a = _mm512_set1_ps(A[4 * lda + q]);
      c40 = _mm512_fmadd_ps(a, b0, c40);
      c41 = _mm512_fmadd_ps(a, b1, c41);
      c42 = _mm512_fmadd_ps(a, b2, c42);
    }
    if constexpr (MR > 5) {
      const __m512 a = _mm512_set1_ps(A[5 * lda + q]);
      c50 = _mm512_fmadd_ps(a, b0, c50);
      c51 = _mm512_fmadd_ps(a, b1, c51);
      c52 = _mm512_fmadd_ps(a, b2, c52);
    }
    if constexpr (MR > 6) {
      const __m512 a = _mm512_set1_ps(A[6 * lda + q]);
      c60 = _mm512_fmadd_ps(a, b0, c60);
      c61 = _mm512_fmadd_ps(a, b1, c61);
      c62 = _mm512_fmadd_ps(a, b2, c62);
    }
    if constexpr (MR > 7) {
      const __m512 a = _mm512_set1_ps(A[7 * lda + q]);
      c70 = _mm512_fmadd_ps(a, b0, c70);
      c71 = _mm512_fmadd_ps(a, b1, c71);
      c72 = _mm512_fmadd_ps(a, b2, c72);
    }
  }
  if constexpr (MR > 0) {
    _mm512_storeu_ps(tile + 0 * ldt + 0, c00);
    _mm512_storeu_ps(tile + 0 * ldt + 16, c01);
    _mm512_storeu_ps(tile + 0 * ldt + 32, c02);
  }
  if constexpr (MR > 1) {
    _mm512_storeu_ps(tile + 1 * ldt + 0, c10);
    _mm512_storeu_ps(tile + 1 * ldt + 16, c11);
    _mm512_storeu_ps(tile + 1 * ldt + 32, c12);
  }
  if constexpr (MR > 2) {
    _mm512_storeu_ps(tile + 2 * ldt + 0, c20);
    _mm512_storeu_ps(tile + 2 * ldt + 16, c21);
    _mm512_storeu_ps(tile + 2 * ldt + 32, c22);
  }
  if constexpr (MR > 3) {
    _mm512_storeu_ps(tile + 3 * ldt + 0, c30);
    _mm512_storeu_ps(tile + 3 * ldt + 16, c31);
    _mm512_storeu_ps(tile + 3 * ldt + 32, c32);
  }
  if constexpr (MR > 4) {
    _mm512_storeu_ps(tile + 4 * ldt + 0, c40);
    _mm512_storeu_ps(tile + 4 * ldt + 16, c41);
    _mm512_storeu_ps(tile + 4 * ldt + 32, c42);
  }
  if constexpr (MR > 5) {
    _mm512_storeu_ps(tile + 5 * ldt + 0, c50);
    _mm512_storeu_ps(tile + 5 * ldt + 16, c51);
    _mm512_storeu_ps(tile + 5 * ldt + 32, c52);
  }
  if constexpr (MR > 6) {
    _mm512_storeu_ps(tile + 6 * ldt + 0, c60);
    _mm512_storeu_ps(tile + 6 * ldt + 16, c61);
    _mm512_storeu_ps(tile + 6 * ldt + 32, c62);
  }
  if constexpr (MR > 7) {
    _mm512_storeu_ps(tile + 7 * ldt + 0, c70);
    _mm512_storeu_ps(tile + 7 * ldt + 16, c71);
    _mm512_storeu_ps(tile + 7 * ldt + 32, c72);
  }
}

// AVX2: `steps` pairs of k from A16, MR rows of 16-bit values (row stride lda16, zero padded to an even K); tile
// [MR][16]. (Eight accumulator pairs fit the 16 ymm registers, so the array stays in them.)
template <int MR>
SLIMPIPE_AVX2 void tile_avx2(const std::int16_t* A16, std::int64_t lda16, std::int64_t steps, const std::byte* panel,
                             std::int32_t* tile, bool accumulate) {
  __m256i c[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    c[r][0] = accumulate ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + r * 16)) : _mm256_setzero_si256();
    c[r][1] =
        accumulate ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + r * 16 + 8)) : _mm256_setzero_si256();
  }
  const auto* bp = reinterpret_cast<const std::int16_t*>(panel);
  for (std::int64_t p = 0; p < steps; ++p, bp += 32) {
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp));
    const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp + 16));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256i a = _mm256_set1_epi32(load_i32(A16 + r * lda16 + 2 * p));
      c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(a, b0));
      c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(a, b1));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(tile + r * 16), c[r][0]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(tile + r * 16 + 8), c[r][1]);
  }
}

// The portable path: the AVX2 layout in plain C++, the tile's accumulators updated in place. GCC 12's loop
// vectorizer at -O3 makes this loop read past the end of A16 for K = 3077 (it runs p beyond `steps`), so that
// pass is off here; the portable path is the fallback for CPUs without AVX2, not a fast one.
template <int MR>
__attribute__((optimize("no-tree-loop-vectorize"))) void tile_portable(const std::int16_t* A16, std::int64_t lda16,
                                                                       std::int64_t steps, const std::byte* panel,
                                                                       std::int32_t* tile, bool accumulate) {
  if (!accumulate) std::fill(tile, tile + MR * 16, 0);
  const auto* bp = reinterpret_cast<const std::int16_t*>(panel);
  for (std::int64_t p = 0; p < steps; ++p, bp += 32)
    for (int r = 0; r < MR; ++r) {
      const std::int32_t a0 = A16[r * lda16 + 2 * p], a1 = A16[r * lda16 + 2 * p + 1];
      std::int32_t* c = tile + r * 16;
      for (int j = 0; j < 16; ++j) c[j] += a0 * bp[2 * j] + a1 * bp[2 * j + 1];
    }
}

template <class F>
void dispatch_mr(int mr, F f) {
  switch (mr) {
    case 1:
      f(std::integral_constant<int, 1>{});
      break;
    case 2:
      f(std::integral_constant<int, 2>{});
      break;
    case 3:
      f(std::integral_constant<int, 3>{});
      break;
    case 4:
      f(std::integral_constant<int, 4>{});
      break;
    case 5:
      f(std::integral_constant<int, 5>{});
      break;
    case 6:
      f(std::integral_constant<int, 6>{});
      break;
    case 7:
      f(std::integral_constant<int, 7>{});
      break;
    default:
      f(std::integral_constant<int, 8>{});
      break;
  }
}

// ---- epilogues: a row of a tile into the output (straight into y for float outputs), then bias, activation and
// requantization. Built per instruction set like the row kernels (kernels.cpp).

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SLIMPIPE_GEMM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SLIMPIPE_GEMM_CLONES
#endif

void finish_row(float* v, std::int64_t row, std::int64_t n0, std::int64_t cols, const GemmOut& out) {
  if (out.bias || out.act != Act::None) bias_act_serial(v, 1, cols, cols, out.bias ? out.bias + n0 : nullptr, out.act);
  if (out.yq)
    quantize_8bit_serial(v, reinterpret_cast<std::int8_t*>(out.yq + row * out.ldyq + n0), cols, out.out_threshold,
                         true);
}

SLIMPIPE_GEMM_CLONES void scale_row(const std::int32_t* acc, const std::int32_t* cs, int zero_point, const float* scale,
                                    bool per_col, std::int64_t cols, float* v) {
  if (per_col) {
    for (std::int64_t j = 0; j < cols; ++j) v[j] = static_cast<float>(acc[j] - zero_point * cs[j]) * scale[j];
  } else {
    const float s = scale[0];
    for (std::int64_t j = 0; j < cols; ++j) v[j] = static_cast<float>(acc[j] - zero_point * cs[j]) * s;
  }
}

void epilogue_i8(const std::int32_t* tile, std::int64_t nr, int mr, std::int64_t row0, std::int64_t n0,
                 std::int64_t cols, int a_zero_point, const PackedB& B, const GemmOut& out) {
  alignas(64) float tmp[64];
  for (int r = 0; r < mr; ++r) {
    float* v = out.yq ? tmp : out.y + (row0 + r) * out.ldy + n0;
    scale_row(tile + r * nr, B.colsum + n0, a_zero_point, out.scale_per_col ? out.scale + n0 : out.scale,
              out.scale_per_col, cols, v);
    finish_row(v, row0 + r, n0, cols, out);
  }
}

// fp32 rows of a tile: from the accumulator buffer (row stride 48) into y or the 8-bit output; `in_place`: the
// tile was accumulated in y itself, only bias, activation (and requantization) remain.
void epilogue_f32(const float* tile, bool in_place, int mr, std::int64_t row0, std::int64_t n0, std::int64_t cols,
                  const GemmOut& out) {
  alignas(64) float tmp[64];
  for (int r = 0; r < mr; ++r) {
    float* v = out.yq ? tmp : out.y + (row0 + r) * out.ldy + n0;
    if (!in_place) std::memcpy(v, tile + r * 48, sizeof(float) * static_cast<std::size_t>(cols));
    finish_row(v, row0 + r, n0, cols, out);
  }
}

// Runs the tiles of rows [r0, r1) x panels [p0, p1): balanced chunks of at most kRowChunk rows outer (prepare(c0, c1)
// readies A for them), then panels, then blocks of `kblock` k steps (a block of the panel, 16 KiB, stays in L1 while
// every tile of the chunk passes over it), then the chunk's tiles; each (chunk, panel) ends with finish(c0, c1, p).
template <int MR = kMr, class Prepare, class Tile, class Finish>
void walk(std::int64_t r0, std::int64_t r1, std::int64_t p0, std::int64_t p1, std::int64_t steps, std::int64_t kblock,
          Prepare prepare, Tile tile, Finish finish) {
  const std::int64_t rows = r1 - r0, chunks = (rows + kRowChunk - 1) / kRowChunk;
  const std::int64_t chunk = chunks > 0 ? ((rows + chunks - 1) / chunks + MR - 1) / MR * MR : kRowChunk;
  for (std::int64_t c0 = r0; c0 < r1; c0 += chunk) {
    const std::int64_t c1 = std::min(r1, c0 + chunk);
    prepare(c0, c1);
    for (std::int64_t p = p0; p < p1; ++p) {
      for (std::int64_t s0 = 0; s0 < steps; s0 += kblock) {
        const std::int64_t n = std::min(kblock, steps - s0);
        for (std::int64_t m = c0; m < c1; m += MR)
          tile(m, static_cast<int>(std::min<std::int64_t>(MR, c1 - m)), p, c0, s0, n);
      }
      finish(c0, c1, p);
    }
  }
}

// Splits [0, M) x [0, panels) over the OpenMP threads (panels when there are enough, else rows in whole tiles).
template <int MR = kMr, class Range>
void split(std::int64_t M, std::int64_t panels, bool parallel, Range range) {
  if (!parallel) {
    range(0, M, 0, panels);
    return;
  }
#pragma omp parallel
  {
    const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    if (panels >= 2 * nt || M <= MR) {
      range(0, M, panels * t / nt, panels * (t + 1) / nt);
    } else {
      const std::int64_t tiles = (M + MR - 1) / MR;
      range(std::min(M, tiles * t / nt * MR), std::min(M, tiles * (t + 1) / nt * MR), 0, panels);
    }
  }
}

}  // namespace

GemmIsa cpu_gemm_isa() {
  static const GemmIsa isa = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
      return GemmIsa::Avx512Vnni;
    if (__builtin_cpu_supports("avx2")) return GemmIsa::Avx2;
    return GemmIsa::Portable;
  }();
  return isa;
}

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

const char* gemm_isa_name(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::Avx512Vnni:
      return "avx512_vnni";
    case GemmIsa::Avx2:
      return "avx2";
    case GemmIsa::Portable:
      break;
  }
  return "portable";
}

GemmIsa parse_gemm_isa(const std::string& name, const std::string& what) {
  const GemmIsa cpu = cpu_gemm_isa();
  if (name == "auto") return cpu;
  for (GemmIsa isa : {GemmIsa::Portable, GemmIsa::Avx2, GemmIsa::Avx512Vnni}) {
    if (name != gemm_isa_name(isa)) continue;
    if (static_cast<int>(isa) > static_cast<int>(cpu))
      throw Error(what + " = \"" + name + "\": this CPU's best is \"" + gemm_isa_name(cpu) + "\"");
    return isa;
  }
  throw Error(what + " = \"" + name + "\": expected \"auto\", \"avx512_vnni\", \"avx2\" or \"portable\"");
}

OwnKernels own_kernels(const std::string& isa_option) {
  OwnKernels k;
  k.isa = parse_gemm_isa(isa_option, "Options::isa");
  k.fp32_avx512 = cpu_has_avx512() && (isa_option == "auto" || isa_option == "avx512_vnni");
  return k;
}

AlignedBytes::AlignedBytes(std::size_t n) : n_(n) {
  if (n == 0) return;
  void* p = std::aligned_alloc(64, round64(n));
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, round64(n));
  p_.reset(static_cast<std::byte*>(p));
}

void AlignedBytes::Free::operator()(std::byte* p) const { std::free(p); }

std::size_t packed_bytes(PackKind kind, GemmIsa isa, std::int64_t K, std::int64_t N) {
  const std::int64_t nr = nr_of(kind, isa), kg = kgroup_of(kind, isa);
  const std::int64_t panels = (N + nr - 1) / nr, kgroups = (K + kg - 1) / kg;
  std::size_t n = round64(static_cast<std::size_t>(panels * kgroups * nr * kg * elem_bytes(kind, isa)));
  if (kind == PackKind::I8) n += round64(static_cast<std::size_t>(panels * nr) * sizeof(std::int32_t));
  return n;
}

namespace {
PackedB layout(PackKind kind, GemmIsa isa, std::int64_t K, std::int64_t N, std::byte* storage) {
  PackedB p;
  p.kind = kind;
  p.isa = kind == PackKind::F32 ? GemmIsa::Avx512Vnni : isa;
  p.K = K;
  p.N = N;
  p.nr = nr_of(kind, isa);
  p.kgroup = kgroup_of(kind, isa);
  p.kgroups = (K + p.kgroup - 1) / p.kgroup;
  p.panels = (N + p.nr - 1) / p.nr;
  p.panel_bytes = static_cast<std::size_t>(p.kgroups * p.nr * p.kgroup * elem_bytes(kind, isa));
  p.data = storage;
  if (kind == PackKind::I8)
    p.colsum = reinterpret_cast<const std::int32_t*>(storage + round64(p.panel_bytes * p.panels));
  return p;
}
}  // namespace

namespace {
// Writes B's values into the panels of p (already zeroed beyond K and N by the caller) as element type T, KG
// consecutive k of a column adjacent (compile-time: the index arithmetic is shifts, not divisions).
template <class T, std::int64_t KG>
void fill_panels(const std::int8_t* b, bool b_nk, std::int64_t ld, const PackedB& p, std::byte* storage,
                 std::int32_t* colsum) {
  const std::int64_t nr = p.nr, K = p.K, full = K / KG;
  for (std::int64_t n = 0; n < p.N; ++n) colsum[n] = 0;
  for (std::int64_t pi = 0; pi < p.panels; ++pi) {
    T* panel = reinterpret_cast<T*>(storage + p.panel_bytes * pi);
    const std::int64_t n0 = pi * nr, cols = std::min(nr, p.N - n0);
    if (b_nk) {  // rows of K: each group of KG values is contiguous in the source
      for (std::int64_t j = 0; j < cols; ++j) {
        const std::int8_t* row = b + (n0 + j) * ld;
        std::int32_t sum = 0;
        for (std::int64_t k = 0; k < K; ++k) sum += row[k];
        colsum[n0 + j] = sum;
        T* dst = panel + j * KG;
        for (std::int64_t g = 0; g < full; ++g)
          for (std::int64_t t = 0; t < KG; ++t) dst[g * nr * KG + t] = static_cast<T>(row[g * KG + t]);
        for (std::int64_t k = full * KG; k < K; ++k) dst[full * nr * KG + (k - full * KG)] = static_cast<T>(row[k]);
      }
    } else {  // rows of N: one k at a time, spread over the panel's columns
      for (std::int64_t k = 0; k < K; ++k) {
        const std::int8_t* row = b + k * ld + n0;
        T* dst = panel + (k / KG) * nr * KG + k % KG;
        for (std::int64_t j = 0; j < cols; ++j) {
          dst[j * KG] = static_cast<T>(row[j]);
          colsum[n0 + j] += row[j];
        }
      }
    }
  }
}
}  // namespace

PackedB pack_i8(const std::int8_t* b, bool b_nk, std::int64_t ld, std::int64_t K, std::int64_t N, GemmIsa isa,
                std::byte* storage) {
  PackedB p = layout(PackKind::I8, isa, K, N, storage);
  auto* colsum = const_cast<std::int32_t*>(p.colsum);
  // Zero padding: the tail of the last k group and the columns past N (whole storage when either is partial).
  if (K % p.kgroup != 0 || N % p.nr != 0) std::memset(storage, 0, p.panel_bytes * static_cast<std::size_t>(p.panels));
  for (std::int64_t n = N; n < p.panels * p.nr; ++n) colsum[n] = 0;
  if (isa == GemmIsa::Avx512Vnni)
    fill_panels<std::int8_t, 4>(b, b_nk, ld, p, storage, colsum);
  else
    fill_panels<std::int16_t, 2>(b, b_nk, ld, p, storage, colsum);
  return p;
}

PackedB pack_f32(const float* b, std::int64_t ld, std::int64_t K, std::int64_t N, std::byte* storage) {
  PackedB p = layout(PackKind::F32, GemmIsa::Avx512Vnni, K, N, storage);
  for (std::int64_t pi = 0; pi < p.panels; ++pi) {
    auto* panel = reinterpret_cast<float*>(storage + p.panel_bytes * pi);
    for (std::int64_t j = 0; j < p.nr; ++j) {
      const std::int64_t n = pi * p.nr + j;
      for (std::int64_t k = 0; k < K; ++k) panel[k * p.nr + j] = n < N ? b[n * ld + k] : 0.0f;
    }
  }
  return p;
}

void gemm_i8(const std::uint8_t* A, std::int64_t lda, int a_zero_point, std::int64_t M, const PackedB& B,
             const GemmOut& out, bool parallel) {
  if (M <= 0 || B.N <= 0) return;
  const std::int64_t nr = B.nr;
  auto cols_of = [&](std::int64_t p) { return std::min(nr, B.N - p * nr); };
  // Accumulators of a (chunk, panel) pair, tile after tile: [kRowChunk][nr].
  auto finish = [&](const std::int32_t* acc, std::int64_t c0, std::int64_t c1, std::int64_t p, int zero_point) {
    for (std::int64_t m = c0; m < c1; m += kMr)
      epilogue_i8(acc + (m - c0) * nr, nr, static_cast<int>(std::min<std::int64_t>(kMr, c1 - m)), m, p * nr, cols_of(p),
                  zero_point, B, out);
  };
  if (B.isa == GemmIsa::Avx512Vnni) {
    split(M, B.panels, parallel, [&](std::int64_t r0, std::int64_t r1, std::int64_t p0, std::int64_t p1) {
      alignas(64) std::int32_t acc[kRowChunk * 64];
      walk(
          r0, r1, p0, p1, B.kgroups, 64, [](std::int64_t, std::int64_t) {},
          [&](std::int64_t m, int mr, std::int64_t p, std::int64_t c0, std::int64_t s0, std::int64_t n) {
            const std::byte* panel = B.data + B.panel_bytes * p + s0 * 256;
            dispatch_mr(mr, [&](auto MR) {
              tile_vnni<decltype(MR)::value>(A + m * lda + 4 * s0, lda, n, panel, acc + (m - c0) * 64, s0 > 0);
            });
          },
          [&](std::int64_t c0, std::int64_t c1, std::int64_t p) { finish(acc, c0, c1, p, a_zero_point); });
    });
    return;
  }
  // AVX2 and portable: the rows of a chunk converted once to 16-bit values minus the zero point.
  const std::int64_t lda16 = B.kgroups * 2;
  const bool avx2 = B.isa == GemmIsa::Avx2;
  split(M, B.panels, parallel, [&](std::int64_t r0, std::int64_t r1, std::int64_t p0, std::int64_t p1) {
    thread_local std::vector<std::int16_t> a16;
    if (a16.size() < static_cast<std::size_t>(kRowChunk * lda16))
      a16.resize(static_cast<std::size_t>(kRowChunk * lda16));
    alignas(64) std::int32_t acc[kRowChunk * 16];
    walk(
        r0, r1, p0, p1, B.kgroups, 512,
        [&](std::int64_t c0, std::int64_t c1) {
          for (std::int64_t r = c0; r < c1; ++r) {
            std::int16_t* dst = a16.data() + (r - c0) * lda16;
            const std::uint8_t* src = A + r * lda;
            for (std::int64_t k = 0; k < B.K; ++k) dst[k] = static_cast<std::int16_t>(src[k] - a_zero_point);
            for (std::int64_t k = B.K; k < lda16; ++k) dst[k] = 0;
          }
        },
        [&](std::int64_t m, int mr, std::int64_t p, std::int64_t c0, std::int64_t s0, std::int64_t n) {
          const std::int16_t* a = a16.data() + (m - c0) * lda16 + 2 * s0;
          const std::byte* panel = B.data + B.panel_bytes * p + s0 * 64;
          std::int32_t* t = acc + (m - c0) * 16;
          if (avx2)
            dispatch_mr(mr, [&](auto MR) { tile_avx2<decltype(MR)::value>(a, lda16, n, panel, t, s0 > 0); });
          else
            dispatch_mr(mr, [&](auto MR) { tile_portable<decltype(MR)::value>(a, lda16, n, panel, t, s0 > 0); });
        },
        [&](std::int64_t c0, std::int64_t c1, std::int64_t p) { finish(acc, c0, c1, p, 0); });
  });
}

void gemm_f32(const float* A, std::int64_t lda, std::int64_t M, const PackedB& B, const GemmOut& out, bool parallel) {
  if (M <= 0 || B.N <= 0) return;
  const std::int64_t K = B.K, nr = B.nr;
  // Rows a multiple of 4 KiB apart (K = 1024, 2048, 3072, ...) put a tile's 8 A values of one k in the same L1
  // set, where they evict each other and the panel: such an A is copied once to rows 16 floats longer (thread-
  // local buffer of the calling thread, grown on first use; 2 % of the GEMM at K = 3072, and 10 % faster).
  if (lda % 1024 == 0 && K >= 1024) {
    thread_local std::vector<float> padded;
    const std::int64_t ld2 = lda + 16;
    if (padded.size() < static_cast<std::size_t>(M * ld2)) padded.resize(static_cast<std::size_t>(M * ld2));
    float* dst = padded.data();
    auto copy = [&](std::int64_t r) {
      std::memcpy(dst + r * ld2, A + r * lda, sizeof(float) * static_cast<std::size_t>(K));
    };
    if (parallel) {
#pragma omp parallel for schedule(static)
      for (std::int64_t r = 0; r < M; ++r) copy(r);
    } else {
      for (std::int64_t r = 0; r < M; ++r) copy(r);
    }
    A = dst;
    lda = ld2;
  }
  split<kMrF>(M, B.panels, parallel, [&](std::int64_t r0, std::int64_t r1, std::int64_t p0, std::int64_t p1) {
    alignas(64) float acc[(kRowChunk + kMrF) * 48];
    // A whole panel with a float output accumulates in the output itself (no copy); else in acc.
    auto direct = [&](std::int64_t p) { return !out.yq && (p + 1) * nr <= B.N; };
    walk<kMrF>(
        r0, r1, p0, p1, K, 1024, [](std::int64_t, std::int64_t) {},
        [&](std::int64_t m, int mr, std::int64_t p, std::int64_t c0, std::int64_t s0, std::int64_t n) {
          const std::byte* panel = B.data + B.panel_bytes * p + s0 * nr * 4;
          const float* a = A + m * lda + s0;
          const bool d = direct(p);
          float* t = d ? out.y + m * out.ldy + p * nr : acc + (m - c0) * 48;
          const std::int64_t ldt = d ? out.ldy : 48;
          dispatch_mr(mr, [&](auto MR) { tile_f32<decltype(MR)::value>(a, lda, n, panel, t, ldt, s0 > 0); });
        },
        [&](std::int64_t c0, std::int64_t c1, std::int64_t p) {
          for (std::int64_t m = c0; m < c1; m += kMrF)
            epilogue_f32(acc + (m - c0) * 48, direct(p), static_cast<int>(std::min<std::int64_t>(kMrF, c1 - m)), m,
                         p * nr, std::min<std::int64_t>(nr, B.N - p * nr), out);
        });
  });
}

}  // namespace slimpipe_runtime::detail
