// The C API (slimpipe_runtime.h) over the C++ runtime: every entry point catches what the C++ side throws and turns
// it into a status and a thread-local one-line message; results are laid out in one malloc'd block each, so that a
// caller frees them with one call whatever language it is written in.
#include "slimpipe_runtime.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include "slimpipe_runtime/classifier.hpp"
#include "slimpipe_runtime/package.hpp"
#include "slimpipe_runtime/runtime.hpp"

struct slimpipe_classifier {
  slimpipe_runtime::Classifier clf;
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

std::vector<std::string> strings(const char* const* texts, std::size_t count, const char* what) {
  std::vector<std::string> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (!texts[i]) throw slimpipe_runtime::Error(std::string(what) + "[" + std::to_string(i) + "] is NULL");
    out.emplace_back(texts[i]);
  }
  return out;
}

std::int64_t batch_of(std::size_t batch_size) {
  return batch_size == 0 ? 32 : static_cast<std::int64_t>(batch_size);
}

slimpipe_classifier* load_classifier(const char* dir, bool verify) {
  if (!require(dir != nullptr, "slimpipe_classifier_load: package_dir is NULL")) return nullptr;
  slimpipe_classifier* handle = nullptr;
  guarded("slimpipe_classifier_load", [&] {
    slimpipe_runtime::Options options;
    options.verify_package = verify;
    handle = new slimpipe_classifier{slimpipe_runtime::Classifier::load(dir, options)};
  });
  return handle;
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
slimpipe_classifier* slimpipe_classifier_load_ex(const char* dir, int verify) { return load_classifier(dir, verify != 0); }
void slimpipe_classifier_free(slimpipe_classifier* clf) { delete clf; }

size_t slimpipe_classifier_num_labels(const slimpipe_classifier* clf) {
  return clf ? clf->clf.package().labels.size() : 0;
}

const char* slimpipe_classifier_label(const slimpipe_classifier* clf, size_t id) {
  if (!clf || id >= clf->clf.package().labels.size()) return nullptr;
  return clf->clf.package().labels[id].c_str();
}

int64_t slimpipe_classifier_max_seq_length(const slimpipe_classifier* clf) {
  return clf ? clf->clf.package().max_seq_length : 0;
}

int slimpipe_classifier_predict(slimpipe_classifier* clf, const char* const* texts, size_t count, size_t batch_size,
                                slimpipe_classifications** out) {
  if (!require(clf && out && (texts || count == 0),
               "slimpipe_classifier_predict: clf, out and texts must not be NULL"))
    return SLIMPIPE_ERROR;
  *out = nullptr;
  return guarded("slimpipe_classifier_predict", [&] {
    const auto preds = clf->clf.predict(strings(texts, count, "texts"), batch_of(batch_size));
    *out = pack(preds, clf->clf.package().labels.size());
  });
}

int slimpipe_classifier_predict_pairs(slimpipe_classifier* clf, const char* const* firsts, const char* const* seconds,
                                      size_t count, size_t batch_size, slimpipe_classifications** out) {
  if (!require(clf && out && ((firsts && seconds) || count == 0),
               "slimpipe_classifier_predict_pairs: clf, out, firsts and seconds must not be NULL"))
    return SLIMPIPE_ERROR;
  *out = nullptr;
  return guarded("slimpipe_classifier_predict_pairs", [&] {
    const auto preds = clf->clf.predict_pairs(strings(firsts, count, "firsts"), strings(seconds, count, "seconds"),
                                              batch_of(batch_size));
    *out = pack(preds, clf->clf.package().labels.size());
  });
}

void slimpipe_classifications_free(slimpipe_classifications* result) { std::free(result); }

}  // extern "C"
