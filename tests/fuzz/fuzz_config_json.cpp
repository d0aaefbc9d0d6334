// libFuzzer target: a model's config.json through slimpipe::nn::EncoderConfig::load. Input: the file's bytes.
// A config that loads must round-trip: to_json() read back gives a config that validates and writes the same JSON.
#include "fuzz_common.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/nn/config.hpp"

namespace {
// to_json() writes one id2label entry per label, and kept_heads() walks every head: the harness leaves configs
// with more out of those calls (a model that size could never be built anyway).
constexpr std::int64_t kWalkLimit = 4096;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = slimpipe_fuzz::write_file("config.json", {reinterpret_cast<const char*>(data), size});
  try {
    const slimpipe::nn::EncoderConfig c = slimpipe::nn::EncoderConfig::load(file);
    (void)c.head_dim();
    (void)c.classifier_dropout_prob();
    if (c.num_attention_heads <= kWalkLimit) {
      for (std::int64_t layer = 0; layer < std::min<std::int64_t>(c.num_hidden_layers, 64); ++layer) {
        (void)c.num_heads(layer);
        (void)c.intermediate_size_of(layer);
      }
    }
    if (c.num_labels <= kWalkLimit) {
      const nlohmann::json j = c.to_json();
      const std::string text = j.dump();
      slimpipe::nn::EncoderConfig back;
      try {
        back = slimpipe::nn::EncoderConfig::from_json(j, "round trip");
      } catch (const slimpipe::Error& e) {
        std::fprintf(stderr, "fuzz_config_json: a config that loaded does not load back from its to_json(): %s\n%s\n",
                     e.what(), text.c_str());
        std::abort();
      }
      if (back.to_json().dump() != text) {
        std::fprintf(stderr, "fuzz_config_json: to_json() differs after a round trip:\n%s\n%s\n", text.c_str(),
                     back.to_json().dump().c_str());
        std::abort();
      }
    }
  } catch (const slimpipe::Error&) {
  } catch (...) {
    slimpipe_fuzz::unexpected_exception("fuzz_config_json");
  }
  return 0;
}
