// gemm_bench: the GEMMs of a BERT-base Linear (K=768, N=3072, and K=3072, N=768) by row count M, through
// OpenBLAS sgemm, oneDNN fp32 matmul, oneDNN s8 x s8 and u8 x s8 (source zero point 128) matmuls with
// per-channel output scales, as Options::kernels = OneDnn builds them (a primitive per row count, weights in
// oneDNN's layout), and the runtime's own kernels (runtime/src/gemm.hpp: fp32 on AVX-512, u8 x s8 with zero
// point 128 and per-channel scales on the CPU's best integer path), all in one run.
// Prints ms, G op/s and oneDNN's kernel names.
// Usage: gemm_bench [threads] [isa]   (isa: auto, avx2 or portable for the own integer kernels (fp32 then
// OpenBLAS); with DNNL_MAX_CPU_ISA=AVX2 in the environment oneDNN is held to AVX2 as well)
#include <cblas.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <vector>

#include "gemm.hpp"

namespace {
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

template <class F>
double best_ms(F&& f, int reps) {
  f();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

enum class Mode { F32, S8, U8 };

// One oneDNN matmul as the runtime builds it: a fixed row count (brgemm kernels where the CPU has them), weights
// in the layout oneDNN picks (reordered once, outside the timing), per-channel output scales for int8, and for
// u8 the source zero point 128 the runtime uses.
double onednn_ms(const dnnl::engine& eng, dnnl::stream& st, long M, long K, long N, Mode mode, int reps,
                 std::string* impl) {
  const dt sdt = mode == Mode::F32 ? dt::f32 : mode == Mode::S8 ? dt::s8 : dt::u8;
  const dt wdt = mode == Mode::F32 ? dt::f32 : dt::s8;
  dnnl::memory::desc src({M, K}, sdt, tag::ab);
  dnnl::memory::desc user_wei({K, N}, wdt, tag::ba);
  dnnl::memory::desc dst({M, N}, dt::f32, tag::ab);
  dnnl::primitive_attr attr;
  if (mode != Mode::F32) attr.set_output_scales(2, std::vector<float>(static_cast<std::size_t>(N), 1e-3f));
  if (mode == Mode::U8) attr.set_zero_points(DNNL_ARG_SRC, 0, {128});
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, dnnl::memory::desc({K, N}, wdt, tag::any), dst), attr, eng);
  *impl = pd.impl_info_str();
  dnnl::matmul mm(pd);
  const std::size_t es = mode == Mode::F32 ? 4 : 1;
  std::vector<char> a(M * K * es, 1), w(K * N * es, 1);
  std::vector<float> c(M * N);
  dnnl::memory am(src, eng, a.data()), uw(user_wei, eng, w.data()), wm(pd.weights_desc(), eng), cm(dst, eng, c.data());
  dnnl::reorder(uw, wm).execute(st, uw, wm);
  st.wait();
  return best_ms(
      [&] {
        mm.execute(st, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, cm}});
        st.wait();
      },
      reps);
}

namespace rd = slimpipe_runtime::detail;

// The runtime's own u8 x s8 GEMM (zero point 128, per-channel scales, f32 output), weights packed outside the
// timing; and its fp32 GEMM where the CPU has AVX-512 (else a negative time).
rd::GemmIsa g_isa = rd::GemmIsa::Portable;

double own_ms(long M, long K, long N, bool int8, int reps) {
  if (!int8 && (!rd::cpu_has_avx512() || g_isa != rd::GemmIsa::Avx512Vnni)) return -1;
  const rd::GemmIsa isa = g_isa;
  rd::AlignedBytes packed(rd::packed_bytes(int8 ? rd::PackKind::I8 : rd::PackKind::F32, isa, K, N));
  std::vector<std::int8_t> w8(N * K, 1);
  std::vector<float> wf(N * K, 0.25f), af(M * K, 0.5f), c(M * N), scale(N, 1e-3f);
  std::vector<std::uint8_t> a8(M * K + 64, 129);
  const rd::PackedB B = int8 ? rd::pack_i8(w8.data(), true, K, K, N, isa, packed.data())
                             : rd::pack_f32(wf.data(), K, K, N, packed.data());
  rd::GemmOut out;
  out.scale = scale.data();
  out.scale_per_col = true;
  out.y = c.data();
  out.ldy = N;
  return best_ms(
      [&] {
        if (int8)
          rd::gemm_i8(a8.data(), K, 128, M, B, out, omp_get_max_threads() > 1);
        else
          rd::gemm_f32(af.data(), K, M, B, out, omp_get_max_threads() > 1);
      },
      reps);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  try {
    g_isa = rd::parse_gemm_isa(argc > 2 ? argv[2] : "auto", "gemm_bench isa");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gemm_bench: %s\n", e.what());
    return 2;
  }
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream st(eng);
  std::printf("threads %d; best of several runs; G/s = 2*M*N*K / time\n", threads);
  std::printf("own kernels: integer %s, fp32 %s\n", rd::gemm_isa_name(g_isa),
              rd::cpu_has_avx512() && g_isa == rd::GemmIsa::Avx512Vnni ? "avx512" : "none (OpenBLAS)");
  std::printf("%6s %6s %6s | %14s | %14s | %14s | %14s | %14s | %14s | %s\n", "M", "K", "N", "OpenBLAS f32",
              "oneDNN f32", "own f32", "oneDNN s8s8", "oneDNN u8s8 zp", "own u8s8 zp", "oneDNN kernels");
  for (auto [K, N] : {std::pair<long, long>{768, 3072}, {3072, 768}}) {
    for (long M : {32L, 128L, 512L, 1024L, 4096L}) {
      const int reps = M >= 4096 ? 2 : 5;
      std::vector<float> a(M * K, 0.5f), w(N * K, 0.25f), c(M * N);
      const double blas = best_ms(
          [&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(N), int(K), 1.0f, a.data(), int(K),
                        w.data(), int(K), 0.0f, c.data(), int(N));
          },
          reps);
      std::string impl_f32, impl_s8, impl_u8;
      const double f32 = onednn_ms(eng, st, M, K, N, Mode::F32, reps, &impl_f32),
                   s8 = onednn_ms(eng, st, M, K, N, Mode::S8, reps, &impl_s8),
                   u8 = onednn_ms(eng, st, M, K, N, Mode::U8, reps, &impl_u8);
      const double own_f32 = own_ms(M, K, N, false, reps), own_u8 = own_ms(M, K, N, true, reps);
      auto gs = [&](double ms) { return 2.0 * M * N * K / ms / 1e6; };
      std::printf(
          "%6ld %6ld %6ld | %6.2f ms %5.1f | %6.2f ms %5.1f | %6.2f ms %5.1f | %6.2f ms %5.1f | %6.2f ms %5.1f | %6.2f "
          "ms %5.1f | %s, %s, %s\n",
          M, K, N, blas, gs(blas), f32, gs(f32), own_f32, own_f32 > 0 ? gs(own_f32) : 0.0, s8, gs(s8), u8, gs(u8),
          own_u8, gs(own_u8), impl_f32.c_str(), impl_s8.c_str(), impl_u8.c_str());
    }
  }
  return 0;
}
