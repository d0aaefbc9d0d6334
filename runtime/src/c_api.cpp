// The C API (slimpipe_runtime.h) over the C++ runtime: every entry point catches what the C++ side throws and turns
// it into a status and a thread-local one-line message; results are laid out in one malloc'd block each, so that a
// caller frees them with one call whatever language it is written in.
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include "slimpipe_runtime.h"
#include "slimpipe_runtime/classifier.hpp"
#include "slimpipe_runtime/package.hpp"
#include "slimpipe_runtime/reader.hpp"
#include "slimpipe_runtime/runtime.hpp"
#include "slimpipe_runtime/tagger.hpp"

struct slimpipe_classifier {
  slimpipe_runtime::Classifier runtime;
};

struct slimpipe_tagger {
  slimpipe_runtime::Tagger runtime;
};

struct slimpipe_reader {
  slimpipe_runtime::Reader runtime;
};

namespace {

thread_local std::string last_error;

void set_error(std::string message) {
  // One line: a caller prints it as it is.
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  last_error = std::move(message);
}

// Runs f, turning any exception into SLIMPIPE_ERROR and the thread's last error.
template <class F>
int guarded(const char* where, F&& f) {
  try {
    f();
    return SLIMPIPE_OK;
  } catch (const std::bad_alloc&) {
    set_error(std::string(where) + ": out of memory");
  } catch (const std::exception& e) {
    set_error(e.what());
  } catch (...) {
    set_error(std::string(where) + ": unknown error");
  }
  return SLIMPIPE_ERROR;
}

bool require(bool ok, const char* message) {
  if (!ok) set_error(message);
  return ok;
}

// A block of memory holding a header, arrays and strings, each part aligned to 8 bytes; sized in a first pass
// (reserve), filled in a second (take).
class Block {
 public:
  void reserve(std::size_t bytes) { size_ += round(bytes); }
  bool allocate() {
    base_ = static_cast<char*>(std::calloc(1, size_ == 0 ? 1 : size_));
    return base_ != nullptr;
  }
  template <class T>
  T* take(std::size_t count) {
    T* p = reinterpret_cast<T*>(base_ + used_);
    used_ += round(sizeof(T) * count);
    return p;
  }
  const char* copy(const std::string& s) {
    char* p = take<char>(s.size() + 1);
    std::memcpy(p, s.c_str(), s.size() + 1);
    return p;
  }
  void* base() const { return base_; }

 private:
  static std::size_t round(std::size_t n) { return (n + 7) / 8 * 8; }
  char* base_ = nullptr;
  std::size_t size_ = 0, used_ = 0;
};

slimpipe_classifications* pack(const std::vector<slimpipe_runtime::Prediction>& preds, std::size_t num_labels) {
  Block block;
  block.reserve(sizeof(slimpipe_classifications));
  block.reserve(sizeof(slimpipe_classification) * preds.size());
  for (const auto& p : preds) {
    block.reserve(sizeof(float) * num_labels);
    block.reserve(sizeof(float) * num_labels);
    block.reserve(p.label.size() + 1);
  }
  if (!block.allocate()) throw std::bad_alloc();
  auto* out = block.take<slimpipe_classifications>(1);
  out->count = preds.size();
  out->num_labels = num_labels;
  out->items = block.take<slimpipe_classification>(preds.size());
  for (std::size_t i = 0; i < preds.size(); ++i) {
    const auto& p = preds[i];
    slimpipe_classification& item = out->items[i];
    float* scores = block.take<float>(num_labels);
    float* logits = block.take<float>(num_labels);
    for (std::size_t j = 0; j < num_labels; ++j) {
      scores[j] = p.scores.at(j);
      logits[j] = p.logits.at(j);
    }
    item.scores = scores;
    item.logits = logits;
    item.label = block.copy(p.label);
    item.label_id = static_cast<int32_t>(p.label_id);
    item.score = p.score;
  }
  return out;
}

slimpipe_taggings* pack(const std::vector<slimpipe_runtime::Tagging>& taggings) {
  Block block;
  block.reserve(sizeof(slimpipe_taggings));
  block.reserve(sizeof(slimpipe_tagging) * taggings.size());
  for (const auto& t : taggings) {
    block.reserve(sizeof(slimpipe_entity) * t.entities.size());
    for (const auto& e : t.entities) {
      block.reserve(e.type.size() + 1);
      block.reserve(e.text.size() + 1);
    }
  }
  if (!block.allocate()) throw std::bad_alloc();
  auto* out = block.take<slimpipe_taggings>(1);
  out->count = taggings.size();
  out->items = block.take<slimpipe_tagging>(taggings.size());
  for (std::size_t i = 0; i < taggings.size(); ++i) {
    const auto& t = taggings[i];
    slimpipe_tagging& item = out->items[i];
    item.count = t.entities.size();
    item.entities = block.take<slimpipe_entity>(t.entities.size());
    item.truncated = t.truncated ? 1 : 0;
    for (std::size_t j = 0; j < t.entities.size(); ++j) {
      const auto& e = t.entities[j];
      slimpipe_entity& entity = item.entities[j];
      entity.type = block.copy(e.type);
      entity.text = block.copy(e.text);
      entity.start = e.start;
      entity.end = e.end;
      entity.byte_start = e.byte_start;
      entity.byte_end = e.byte_end;
      entity.score = e.score;
    }
  }
  return out;
}

slimpipe_answers* pack(const std::vector<slimpipe_runtime::Answer>& answers) {
  Block block;
  block.reserve(sizeof(slimpipe_answers));
  block.reserve(sizeof(slimpipe_answer) * answers.size());
  for (const auto& a : answers) block.reserve(a.text.size() + 1);
  if (!block.allocate()) throw std::bad_alloc();
  auto* out = block.take<slimpipe_answers>(1);
  out->count = answers.size();
  out->items = block.take<slimpipe_answer>(answers.size());
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const auto& a = answers[i];
    slimpipe_answer& item = out->items[i];
    item.text = block.copy(a.text);
    item.start = a.start;
    item.end = a.end;
    item.byte_start = a.byte_start;
    item.byte_end = a.byte_end;
    item.score = a.score;
    item.logit_score = a.logit_score;
    item.window = a.window;
  }
  return out;
}

std::vector<std::string> strings(const char* const* texts, std::size_t count, const char* what) {
  std::vector<std::string> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (!texts[i]) throw slimpipe_runtime::Error(std::string(what) + "[" + std::to_string(i) + "] is NULL");
    out.emplace_back(texts[i]);
  }
  return out;
}

std::int64_t batch_of(std::size_t batch_size) { return batch_size == 0 ? 32 : static_cast<std::int64_t>(batch_size); }

// A new handle holding make(options), options.verify_package = verify; NULL with the thread's last error when dir
// is NULL or make throws.
template <class Handle, class Make>
Handle* load_handle(const char* dir, const char* who, bool verify, Make&& make) {
  if (!require(dir != nullptr, (std::string(who) + ": package_dir is NULL").c_str())) return nullptr;
  Handle* handle = nullptr;
  guarded(who, [&] {
    slimpipe_runtime::Options options;
    options.verify_package = verify;
    handle = new Handle{make(options)};
  });
  return handle;
}

slimpipe_tagger* load_tagger(const char* dir, bool verify, int chunk_mode) {
  using slimpipe::metrics::ChunkMode;
  slimpipe_runtime::TaggerOptions tagger_options;
  switch (chunk_mode) {
    case SLIMPIPE_CHUNK_DEFAULT:
      break;  // TaggerOptions' own default
    case SLIMPIPE_CHUNK_LENIENT:
      tagger_options.chunk_mode = ChunkMode::Lenient;
      break;
    case SLIMPIPE_CHUNK_STRICT_IOB2:
      tagger_options.chunk_mode = ChunkMode::StrictIob2;
      break;
    case SLIMPIPE_CHUNK_STRICT_IOBES:
      tagger_options.chunk_mode = ChunkMode::StrictIobes;
      break;
    default:
      set_error("slimpipe_tagger_load_ex: chunk_mode " + std::to_string(chunk_mode) +
                ", expected SLIMPIPE_CHUNK_DEFAULT (0), SLIMPIPE_CHUNK_LENIENT (1), SLIMPIPE_CHUNK_STRICT_IOB2 (2) or "
                "SLIMPIPE_CHUNK_STRICT_IOBES (3)");
      return nullptr;
  }
  return load_handle<slimpipe_tagger>(dir, "slimpipe_tagger_load", verify, [&](const slimpipe_runtime::Options& o) {
    return slimpipe_runtime::Tagger::load(dir, o, tagger_options);
  });
}

slimpipe_reader* load_reader(const char* dir, bool verify, std::size_t n_best_size, std::size_t max_answer_length) {
  slimpipe_runtime::ReaderOptions reader_options;  // 0: left as ReaderOptions has it
  if (n_best_size != 0) reader_options.n_best_size = n_best_size;
  if (max_answer_length != 0) reader_options.max_answer_length = max_answer_length;
  return load_handle<slimpipe_reader>(dir, "slimpipe_reader_load", verify, [&](const slimpipe_runtime::Options& o) {
    return slimpipe_runtime::Reader::load(dir, o, reader_options);
  });
}

slimpipe_classifier* load_classifier(const char* dir, bool verify) {
  return load_handle<slimpipe_classifier>(
      dir, "slimpipe_classifier_load", verify,
      [&](const slimpipe_runtime::Options& o) { return slimpipe_runtime::Classifier::load(dir, o); });
}

// The package of a handle; nullptr for a NULL handle.
template <class Handle>
const slimpipe_runtime::PackageInfo* package_of(const Handle* handle) {
  return handle ? &handle->runtime.package() : nullptr;
}

std::size_t num_labels(const slimpipe_runtime::PackageInfo* p) { return p ? p->labels.size() : 0; }

const char* label(const slimpipe_runtime::PackageInfo* p, std::size_t id) {
  return p && id < p->labels.size() ? p->labels[id].c_str() : nullptr;
}

}  // namespace

extern "C" {

const char* slimpipe_version(void) { return "0.1.0"; }
int slimpipe_package_format_version(void) { return slimpipe_runtime::kPackageFormatVersion; }
const char* slimpipe_last_error(void) { return last_error.c_str(); }

int slimpipe_set_threads(int n) {
  if (n < 1) {
    set_error("slimpipe_set_threads: n must be >= 1, got " + std::to_string(n));
    return SLIMPIPE_ERROR;
  }
  return guarded("slimpipe_set_threads", [&] { slimpipe_runtime::set_threads(n); });
}

int slimpipe_threads(void) { return slimpipe_runtime::threads(); }

const char* slimpipe_cpu_isa(void) {
  static const std::string isa = [] {
    try {
      return slimpipe_runtime::cpu_isa();
    } catch (...) {
      return std::string("unknown");
    }
  }();
  return isa.c_str();
}

int slimpipe_package_task(const char* dir, char* buf, size_t size) {
  if (!require(dir != nullptr && buf != nullptr && size > 0,
               "slimpipe_package_task: package_dir and buf must not be NULL, size > 0"))
    return SLIMPIPE_ERROR;
  return guarded("slimpipe_package_task", [&] {
    if (!slimpipe_runtime::is_package(dir))
      throw slimpipe_runtime::Error((std::filesystem::path(dir) / "package.json").string() +
                                    ": not found (not a runtime package)");
    const std::string task = slimpipe_runtime::read_package(dir, false).task;
    const std::size_t n = std::min(task.size(), size - 1);
    std::memcpy(buf, task.data(), n);
    buf[n] = '\0';
  });
}

slimpipe_classifier* slimpipe_classifier_load(const char* dir) { return load_classifier(dir, true); }
slimpipe_classifier* slimpipe_classifier_load_ex(const char* dir, int verify) {
  return load_classifier(dir, verify != 0);
}
void slimpipe_classifier_free(slimpipe_classifier* clf) { delete clf; }

size_t slimpipe_classifier_num_labels(const slimpipe_classifier* clf) { return num_labels(package_of(clf)); }
const char* slimpipe_classifier_label(const slimpipe_classifier* clf, size_t id) { return label(package_of(clf), id); }
int64_t slimpipe_classifier_max_seq_length(const slimpipe_classifier* clf) {
  return clf ? package_of(clf)->max_seq_length : 0;
}

int slimpipe_classifier_predict(slimpipe_classifier* clf, const char* const* texts, size_t count, size_t batch_size,
                                slimpipe_classifications** out) {
  if (!require(clf && out && (texts || count == 0), "slimpipe_classifier_predict: clf, out and texts must not be NULL"))
    return SLIMPIPE_ERROR;
  *out = nullptr;
  return guarded("slimpipe_classifier_predict", [&] {
    const auto preds = clf->runtime.predict(strings(texts, count, "texts"), batch_of(batch_size));
    *out = pack(preds, clf->runtime.package().labels.size());
  });
}

int slimpipe_classifier_predict_pairs(slimpipe_classifier* clf, const char* const* firsts, const char* const* seconds,
                                      size_t count, size_t batch_size, slimpipe_classifications** out) {
  if (!require(clf && out && ((firsts && seconds) || count == 0),
               "slimpipe_classifier_predict_pairs: clf, out, firsts and seconds must not be NULL"))
    return SLIMPIPE_ERROR;
  *out = nullptr;
  return guarded("slimpipe_classifier_predict_pairs", [&] {
    const auto preds = clf->runtime.predict_pairs(strings(firsts, count, "firsts"), strings(seconds, count, "seconds"),
                                                  batch_of(batch_size));
    *out = pack(preds, clf->runtime.package().labels.size());
  });
}

void slimpipe_classifications_free(slimpipe_classifications* result) { std::free(result); }

slimpipe_tagger* slimpipe_tagger_load(const char* dir) { return load_tagger(dir, true, SLIMPIPE_CHUNK_DEFAULT); }
slimpipe_tagger* slimpipe_tagger_load_ex(const char* dir, int verify, int chunk_mode) {
  return load_tagger(dir, verify != 0, chunk_mode);
}
void slimpipe_tagger_free(slimpipe_tagger* tagger) { delete tagger; }

size_t slimpipe_tagger_num_labels(const slimpipe_tagger* tagger) { return num_labels(package_of(tagger)); }
const char* slimpipe_tagger_label(const slimpipe_tagger* tagger, size_t id) { return label(package_of(tagger), id); }
int64_t slimpipe_tagger_max_seq_length(const slimpipe_tagger* tagger) {
  return tagger ? package_of(tagger)->max_seq_length : 0;
}

int slimpipe_tagger_predict(slimpipe_tagger* tagger, const char* const* texts, size_t count, size_t batch_size,
                            slimpipe_taggings** out) {
  if (!require(tagger && out && (texts || count == 0),
               "slimpipe_tagger_predict: tagger, out and texts must not be NULL"))
    return SLIMPIPE_ERROR;
  *out = nullptr;
  return guarded("slimpipe_tagger_predict",
                 [&] { *out = pack(tagger->runtime.predict(strings(texts, count, "texts"), batch_of(batch_size))); });
}

void slimpipe_taggings_free(slimpipe_taggings* result) { std::free(result); }

slimpipe_reader* slimpipe_reader_load(const char* dir) { return load_reader(dir, true, 0, 0); }
slimpipe_reader* slimpipe_reader_load_ex(const char* dir, int verify, size_t n_best_size, size_t max_answer_length) {
  return load_reader(dir, verify != 0, n_best_size, max_answer_length);
}
void slimpipe_reader_free(slimpipe_reader* reader) { delete reader; }

int64_t slimpipe_reader_max_seq_length(const slimpipe_reader* reader) {
  return reader ? package_of(reader)->max_seq_length : 0;
}
int64_t slimpipe_reader_doc_stride(const slimpipe_reader* reader) {
  return reader ? package_of(reader)->doc_stride : 0;
}
int64_t slimpipe_reader_max_query_length(const slimpipe_reader* reader) {
  return reader ? package_of(reader)->max_query_length : 0;
}

int slimpipe_reader_answer(slimpipe_reader* reader, const char* const* questions, const char* const* contexts,
                           size_t count, size_t batch_size, slimpipe_answers** out) {
  if (!require(reader && out && ((questions && contexts) || count == 0),
               "slimpipe_reader_answer: reader, out, questions and contexts must not be NULL"))
    return SLIMPIPE_ERROR;
  *out = nullptr;
  return guarded("slimpipe_reader_answer", [&] {
    auto qs = strings(questions, count, "questions");
    auto cs = strings(contexts, count, "contexts");
    std::vector<slimpipe_runtime::QaInput> inputs(count);
    for (std::size_t i = 0; i < count; ++i) inputs[i] = {std::move(qs[i]), std::move(cs[i])};
    *out = pack(reader->runtime.answer(inputs, batch_of(batch_size)));
  });
}

void slimpipe_answers_free(slimpipe_answers* result) { std::free(result); }

}  // extern "C"
