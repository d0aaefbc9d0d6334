#include "engine.hpp"

#include <string_view>

#include "slimpipe/error.hpp"
#include "slimpipe/io/json_file.hpp"
#include "slimpipe_runtime/classifier.hpp"
#include "slimpipe_runtime/reader.hpp"
#include "slimpipe_runtime/tagger.hpp"

namespace slimpipe_serve {

namespace fs = std::filesystem;
namespace rt = slimpipe_runtime;

namespace {

std::string where(std::size_t index) { return "inputs[" + std::to_string(index) + "]"; }

void check_text(const std::string& text, const std::string& what, const Limits& limits) {
  if (text.size() > limits.max_text_bytes)
    throw HttpError(400, "text_too_long",
                    what + ": " + std::to_string(text.size()) + " bytes, the limit is " +
                        std::to_string(limits.max_text_bytes) + " (--max-text-bytes)");
}

std::string text_of(const Json& item, const std::string& what, const Limits& limits) {
  if (!item.is_string()) throw HttpError(400, "bad_request", what + " must be a string, got " + item.type_name());
  std::string text = item.get<std::string>();
  check_text(text, what, limits);
  return text;
}

std::vector<std::string> texts_of(const std::vector<const Input*>& inputs) {
  std::vector<std::string> texts;
  texts.reserve(inputs.size());
  for (const Input* in : inputs) texts.push_back(in->text);
  return texts;
}

class ClassifierEngine final : public Engine {
 public:
  explicit ClassifierEngine(rt::Classifier clf) : clf_(std::move(clf)) {}
  const rt::PackageInfo& package() const override { return clf_.package(); }

  Input parse_input(const Json& item, std::size_t index, const Limits& limits) const override {
    return Input{text_of(item, where(index), limits), {}};
  }

  std::vector<Json> run(const std::vector<const Input*>& inputs, std::int64_t batch_size) override {
    std::vector<Json> out;
    out.reserve(inputs.size());
    for (const auto& p : clf_.predict(texts_of(inputs), batch_size))
      out.push_back({{"label", p.label}, {"score", p.score}});
    return out;
  }

 private:
  rt::Classifier clf_;
};

// token_cls: the entities of each text, as Hugging Face's token-classification pipeline with aggregation "simple"
// names them (entity_group, word, start and end in code points, score).
class TaggerEngine final : public Engine {
 public:
  explicit TaggerEngine(rt::Tagger tagger) : tagger_(std::move(tagger)) {}
  const rt::PackageInfo& package() const override { return tagger_.package(); }
  Input parse_input(const Json& item, std::size_t index, const Limits& limits) const override {
    return Input{text_of(item, where(index), limits), {}};
  }
  std::vector<Json> run(const std::vector<const Input*>& inputs, std::int64_t batch_size) override {
    std::vector<Json> out;
    for (const auto& t : tagger_.predict(texts_of(inputs), batch_size)) {
      Json entities = Json::array();
      for (const auto& e : t.entities)
        entities.push_back(
            {{"entity_group", e.type}, {"word", e.text}, {"start", e.start}, {"end", e.end}, {"score", e.score}});
      out.push_back(std::move(entities));
    }
    return out;
  }

 private:
  rt::Tagger tagger_;
};

// qa: {"question": ..., "context": ...} in; answer, start and end in code points of the context, score out.
class ReaderEngine final : public Engine {
 public:
  explicit ReaderEngine(rt::Reader reader) : reader_(std::move(reader)) {}
  const rt::PackageInfo& package() const override { return reader_.package(); }
  Input parse_input(const Json& item, std::size_t index, const Limits& limits) const override {
    const std::string w = where(index);
    if (!item.is_object() || !item.contains("question") || !item.contains("context"))
      throw HttpError(400, "bad_request", w + " must be an object with \"question\" and \"context\"");
    return Input{text_of(item["question"], w + ".question", limits), text_of(item["context"], w + ".context", limits)};
  }
  std::vector<Json> run(const std::vector<const Input*>& inputs, std::int64_t batch_size) override {
    std::vector<rt::QaInput> qa;
    qa.reserve(inputs.size());
    for (const Input* in : inputs) qa.push_back({in->text, in->context});
    std::vector<Json> out;
    for (const auto& a : reader_.answer(qa, batch_size))
      out.push_back({{"answer", a.text}, {"start", a.start}, {"end", a.end}, {"score", a.score}});
    return out;
  }

 private:
  rt::Reader reader_;
};

}  // namespace

std::unique_ptr<Engine> load_engine(const fs::path& dir, const rt::Options& options) {
  const std::string task = rt::read_package(dir, false).task;
  if (task == "seq_cls") return std::make_unique<ClassifierEngine>(rt::Classifier::load(dir, options));
  if (task == "token_cls") return std::make_unique<TaggerEngine>(rt::Tagger::load(dir, options));
  if (task == "qa") return std::make_unique<ReaderEngine>(rt::Reader::load(dir, options));
  throw rt::Error((dir / "package.json").string() + ": task " + task +
                  ", slimpipe-serve runs seq_cls, token_cls and qa packages");
}

std::vector<Input> parse_request(const Engine& engine, const std::string& body, const Limits& limits) {
  Json j;
  try {
    j = slimpipe::parse_json_text(body, "request body", 64);
  } catch (const slimpipe::Error& e) {
    throw HttpError(400, "malformed_json", e.what());
  }
  if (!j.is_object())
    throw HttpError(400, "bad_request", std::string("request body must be a JSON object, got ") + j.type_name());
  const auto it = j.find("inputs");
  if (it == j.end()) throw HttpError(400, "bad_request", "request body has no \"inputs\"");
  std::vector<Input> inputs;
  if (!it->is_array()) {
    inputs.push_back(engine.parse_input(*it, 0, limits));
    return inputs;
  }
  if (it->size() > limits.max_inputs)
    throw HttpError(413, "too_many_inputs",
                    "inputs: " + std::to_string(it->size()) + " inputs, the limit is " +
                        std::to_string(limits.max_inputs) + " (--max-inputs)");
  inputs.reserve(it->size());
  for (std::size_t i = 0; i < it->size(); ++i) inputs.push_back(engine.parse_input((*it)[i], i, limits));
  return inputs;
}

fs::path find_package(const fs::path& dir) {
  if (rt::is_package(dir)) return dir;
  if (rt::is_package(dir / "runtime")) return dir / "runtime";
  if (!fs::is_directory(dir)) throw rt::Error(dir.string() + ": not a folder");
  throw rt::Error(dir.string() + ": holds neither package.json nor runtime/package.json (give a runtime package, " +
                  "or a rank folder that holds one)");
}

}  // namespace slimpipe_serve
