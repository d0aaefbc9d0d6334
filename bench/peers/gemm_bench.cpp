// gemm_bench: the GEMMs of a BERT-base Linear (K=768, N=3072, and K=3072, N=768) by row count M, through
// OpenBLAS sgemm, oneDNN fp32 matmul and oneDNN s8 x s8 matmul with per-channel output scales, as the runtime
// calls them (row count a runtime dimension). Prints ms and G op/s; the runtime's fp32 library choice
// (Options::onednn_fp32_min_rows) follows these figures.
// Usage: gemm_bench [threads]
#include <cblas.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

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

double onednn_ms(const dnnl::engine& eng, dnnl::stream& st, long M, long K, long N, bool int8, int reps) {
  dnnl::memory::desc src({DNNL_RUNTIME_DIM_VAL, K}, int8 ? dt::s8 : dt::f32, tag::ab);
  dnnl::memory::desc wei({K, N}, int8 ? dt::s8 : dt::f32, tag::ba);
  dnnl::memory::desc dst({DNNL_RUNTIME_DIM_VAL, N}, dt::f32, tag::ab);
  dnnl::primitive_attr attr;
  if (int8) attr.set_output_scales(2, std::vector<float>(static_cast<std::size_t>(N), 1e-3f));
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), attr, eng);
  dnnl::matmul mm(pd);
  const std::size_t es = int8 ? 1 : 4;
  std::vector<char> a(M * K * es, 1), w(K * N * es, 1);
  std::vector<float> c(M * N);
  dnnl::memory am({{M, K}, int8 ? dt::s8 : dt::f32, tag::ab}, eng, a.data()), wm(wei, eng, w.data()),
      cm({{M, N}, dt::f32, tag::ab}, eng, c.data());
  return best_ms([&] { mm.execute(st, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, cm}}); st.wait(); }, reps);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream st(eng);
  std::printf("threads %d; best of several runs; G/s = 2*M*N*K / time\n", threads);
  std::printf("%6s %6s %6s | %14s | %14s | %14s\n", "M", "K", "N", "OpenBLAS f32", "oneDNN f32", "oneDNN s8s8");
  for (auto [K, N] : {std::pair<long, long>{768, 3072}, {3072, 768}}) {
    for (long M : {32L, 128L, 512L, 1024L, 4096L}) {
      const int reps = M >= 4096 ? 2 : 5;
      std::vector<float> a(M * K, 0.5f), w(N * K, 0.25f), c(M * N);
      const double blas = best_ms([&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(N), int(K), 1.0f, a.data(), int(K), w.data(), int(K), 0.0f,
                    c.data(), int(N));
      }, reps);
      const double f32 = onednn_ms(eng, st, M, K, N, false, reps), s8 = onednn_ms(eng, st, M, K, N, true, reps);
      auto gs = [&](double ms) { return 2.0 * M * N * K / ms / 1e6; };
      std::printf("%6ld %6ld %6ld | %6.2f ms %5.1f | %6.2f ms %5.1f | %6.2f ms %5.1f\n", M, K, N, blas, gs(blas), f32, gs(f32), s8, gs(s8));
    }
  }
  return 0;
}
