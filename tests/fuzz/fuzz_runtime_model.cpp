// libFuzzer target: an exported runtime folder (runtime.json + weights.bin) through slimpipe_runtime::Model::load,
// then one run of the model it gives (batch 1, 2 tokens). Input: one option byte, then runtime.json, "\n=====\n",
// weights.bin. Byte 0: bit 0 oneDNN kernels instead of the runtime's own, bit 1 the portable integer GEMM.
#include <vector>

#include "fuzz_common.hpp"
#include "slimpipe_runtime/runtime.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  slimpipe_runtime::set_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned flags = data[0];
  const auto parts =
      slimpipe_fuzz::split({reinterpret_cast<const char*>(data) + 1, size - 1}, slimpipe_fuzz::kFileSeparator, 2);
  slimpipe_fuzz::write_file("runtime.json", parts[0]);
  slimpipe_fuzz::write_file("weights.bin", parts.size() > 1 ? parts[1] : std::string_view());
  try {
    slimpipe_runtime::Options o;
    o.kernels = flags & 1 ? slimpipe_runtime::Kernels::OneDnn : slimpipe_runtime::Kernels::Own;
    if (flags & 2) o.isa = "portable";
    slimpipe_runtime::Model model = slimpipe_runtime::Model::load(slimpipe_fuzz::scratch_dir(), o);
    const auto& info = model.info();
    const std::int64_t seq = std::min<std::int64_t>(2, info.max_position_embeddings);
    const std::vector<std::int64_t> ids(static_cast<std::size_t>(seq), info.vocab_size - 1), types(ids.size(), 0),
        mask(ids.size(), 1);
    const slimpipe_runtime::Output& out = model.run(ids, types, mask, 1, seq);
    // Every output value is readable (ASan checks the reads).
    volatile float sink = 0;
    if (out.logits)
      for (std::int64_t i = 0; i < out.logits_size(); ++i) sink = sink + out.logits[i];
    if (out.start_logits)
      for (std::int64_t i = 0; i < out.seq; ++i) sink = sink + out.start_logits[i] + out.end_logits[i];
  } catch (const slimpipe_runtime::Error&) {
  } catch (...) {
    slimpipe_fuzz::unexpected_exception("fuzz_runtime_model");
  }
  return 0;
}
