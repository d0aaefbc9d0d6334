// The runtime's own GEMM kernels: C = A·B with B packed once (weights, at load) or per call into a caller's
// buffer (attention keys and values), register-blocked micro-kernels per instruction set, and the bias,
// activation, scales and 8-bit requantization applied to each output tile while it is hot. They exist so that
// a steady-state run allocates nothing (oneDNN 2.6 builds its argument map and execution context on the heap on
// every primitive execution) and come close to the speed of oneDNN's brgemm kernels (bench/peers/gemm_bench:
// int8 0.98-1.13x, fp32 0.95-0.98x on BERT-base models, docs/results.md).
//
// Integer products are exact on every instruction set:
// - AVX-512 VNNI: vpdpbusd, u8 A x s8 B, four k per 32-bit lane; panels of 64 columns, 6 rows per tile.
// - AVX2 (and the portable C++ path): A as 16-bit (u8 minus its zero point) x B as 16-bit, vpmaddwd pairs
//   (vpmaddubsw would saturate 16-bit sums of u8 x s8 products); panels of 16 columns.
// fp32 (AVX-512 only; elsewhere the runtime calls OpenBLAS): vfmadd231ps, panels of 48 columns, 8 rows per tile,
// accumulated straight into the output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kernels.hpp"

namespace slimpipe_runtime::detail {

enum class GemmIsa { Portable, Avx2, Avx512Vnni };

// The best instruction set of this CPU for the integer kernels.
GemmIsa cpu_gemm_isa();
// True when this CPU runs AVX-512F (the fp32 kernels).
bool cpu_has_avx512();
const char* gemm_isa_name(GemmIsa isa);
// "auto" (the CPU's best), or a name of gemm_isa_name no better than the CPU's; anything else throws Error
// naming `what` and the accepted values.
GemmIsa parse_gemm_isa(const std::string& name, const std::string& what);

// What the own kernels run for an Options::isa value: the integer instruction set, and whether fp32 runs on the
// AVX-512 kernel (this CPU has it and isa is "auto" or "avx512_vnni") rather than OpenBLAS. Throws as
// parse_gemm_isa does.
struct OwnKernels {
  GemmIsa isa = GemmIsa::Portable;
  bool fp32_avx512 = false;
};
OwnKernels own_kernels(const std::string& isa_option);

// 64-byte aligned bytes (zeroed), for packed operands.
class AlignedBytes {
 public:
  AlignedBytes() = default;
  explicit AlignedBytes(std::size_t n);
  std::byte* data() const { return p_.get(); }
  std::size_t size() const { return n_; }

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  std::unique_ptr<std::byte, Free> p_;
  std::size_t n_ = 0;
};

enum class PackKind { I8, F32 };

// B [K, N] packed in column panels of `nr`, each panel k-major with `kgroup` consecutive k of a column adjacent.
struct PackedB {
  PackKind kind = PackKind::I8;
  GemmIsa isa = GemmIsa::Portable;
  std::int64_t K = 0, N = 0;
  std::int64_t nr = 0, kgroup = 1, kgroups = 0, panels = 0;
  std::size_t panel_bytes = 0;
  const std::byte* data = nullptr;
  const std::int32_t* colsum = nullptr;  // int8: sum over k of B[k][n], per column (panels * nr, zero padded)
};

// Bytes a packing of K x N needs (64-byte multiple; the packed values, then the column sums for int8).
std::size_t packed_bytes(PackKind kind, GemmIsa isa, std::int64_t K, std::int64_t N);
// Packs int8 B into `storage` (packed_bytes(), 64-byte aligned). b_nk: b holds B as N rows of K (a weight
// [out, in], attention keys [keys, d]); else as K rows of N (attention values [keys, d]). ld: b's row stride.
PackedB pack_i8(const std::int8_t* b, bool b_nk, std::int64_t ld, std::int64_t K, std::int64_t N, GemmIsa isa,
                std::byte* storage);
// Packs fp32 B given as N rows of K (a weight [out, in]); AVX-512 CPUs only.
PackedB pack_f32(const float* b, std::int64_t ld, std::int64_t K, std::int64_t N, std::byte* storage);

// What happens to each output element v of row r, column n:
//   int8: v = (acc - a_zero_point * colsum[n]) * scale[n] (scale[0] when !scale_per_col), fp32: v = acc;
//   then v += bias[n] (bias may be null), v = act(v);
//   then y[r * ldy + n] = v, or (yq set) yq[r * ldyq + n] = u8 of clip(rint(v / out_threshold * 127), -128, 127) + 128.
struct GemmOut {
  const float* scale = nullptr;
  bool scale_per_col = false;
  const float* bias = nullptr;
  Act act = Act::None;
  float* y = nullptr;
  std::int64_t ldy = 0;
  std::uint8_t* yq = nullptr;
  std::int64_t ldyq = 0;
  float out_threshold = 0;
};

// C = A·B over M rows. int8: A is u8 [M, K] (row stride lda) holding values + a_zero_point (0 or 128).
// parallel: split the tiles over the OpenMP threads (the caller decides, see parallel_worth). Nothing is
// allocated except, on the first call of a thread with a larger K than before, the 16-bit copy of A that the
// AVX2 and portable paths use.
void gemm_i8(const std::uint8_t* A, std::int64_t lda, int a_zero_point, std::int64_t M, const PackedB& B,
             const GemmOut& out, bool parallel);
void gemm_f32(const float* A, std::int64_t lda, std::int64_t M, const PackedB& B, const GemmOut& out, bool parallel);

}  // namespace slimpipe_runtime::detail
