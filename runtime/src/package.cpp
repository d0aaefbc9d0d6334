// package.json: parsed, checked for format and version, every listed file checked for size and SHA-1 (the text
// library's slimpipe::Hasher, the SHA-1 of the run folders' manifests).
#include "slimpipe_runtime/package.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "slimpipe/error.hpp"
#include "slimpipe/hash.hpp"
#include "slimpipe/io/json_file.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe_runtime {

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

const Json& member(const Json& j, const char* key, const std::string& where, const char* expected,
                   bool (Json::*is)() const noexcept) {
  auto it = j.find(key);
  if (it == j.end() || !((*it).*is)()) throw Error(where + ": key '" + key + "' missing or not " + expected);
  return *it;
}

std::int64_t positive(const Json& j, const char* key, const std::string& where) {
  const Json& v = member(j, key, where, "an integer", &Json::is_number_integer);
  if (v.get<std::int64_t>() < 1) throw Error(where + ": key '" + key + "' is " + v.dump() + ", expected >= 1");
  return v.get<std::int64_t>();
}

// A file name inside the package folder: no folder part, no "..".
std::string plain_name(const Json& v, const std::string& where) {
  if (!v.is_string()) throw Error(where + ": a file path is not a string");
  const std::string name = v.get<std::string>();
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\\') != std::string::npos)
    throw Error(where + ": file path '" + name + "' is not a plain file name inside the package");
  return name;
}

// The version, the task, the labels and the task's settings (sizes for qa, tagging scheme for token_cls).
void read_settings(const Json& j, const std::string& where, PackageInfo& p) {
  const Json& version = member(j, "version", where, "an integer", &Json::is_number_integer);
  if (version.get<std::int64_t>() != kPackageFormatVersion)
    throw Error(where + ": package format version " + version.dump() + ", this runtime reads version " +
                std::to_string(kPackageFormatVersion));
  p.version = kPackageFormatVersion;
  p.task = member(j, "task", where, "a string", &Json::is_string).get<std::string>();
  if (p.task != "seq_cls" && p.task != "token_cls" && p.task != "qa")
    throw Error(where + ": task '" + p.task + "', expected seq_cls, token_cls or qa");
  for (const Json& l : member(j, "labels", where, "an array", &Json::is_array)) {
    if (!l.is_string()) throw Error(where + ": 'labels' holds " + l.dump() + ", expected label names (strings)");
    p.labels.push_back(l.get<std::string>());
  }
  if (p.task != "qa" && p.labels.empty()) throw Error(where + ": 'labels' is empty, expected the label names");
  p.max_seq_length = positive(j, "max_seq_length", where);
  if (p.task == "qa") {
    p.doc_stride = positive(j, "doc_stride", where);
    p.max_query_length = positive(j, "max_query_length", where);
    if (j.contains("n_best_size")) p.n_best_size = positive(j, "n_best_size", where);
    if (j.contains("max_answer_length")) p.max_answer_length = positive(j, "max_answer_length", where);
  }
  if (p.task == "token_cls") {
    if (j.contains("strict")) p.strict = member(j, "strict", where, "a boolean", &Json::is_boolean).get<bool>();
    if (j.contains("scheme")) {
      p.scheme = member(j, "scheme", where, "a string", &Json::is_string).get<std::string>();
      if (p.scheme != "bio" && p.scheme != "bioes")
        throw Error(where + ": scheme '" + p.scheme + "', expected bio or bioes");
    }
  }
}

// The 'files' entries into p.files (runtime.json and weights.bin required); returns the names listed.
std::set<std::string> read_files(const Json& j, const std::string& where, PackageInfo& p) {
  std::set<std::string> listed;
  for (const Json& f : member(j, "files", where, "an array", &Json::is_array)) {
    if (!f.is_object()) throw Error(where + ": a 'files' entry is not an object");
    PackageInfo::File rec;
    rec.path = plain_name(f.value("path", Json()), where);
    const auto bytes = f.find("bytes");
    const auto sha1 = f.find("sha1");
    if (bytes == f.end() || !bytes->is_number_unsigned() || sha1 == f.end() || !sha1->is_string() ||
        sha1->get<std::string>().size() != 40)
      throw Error(where + ": the entry of " + rec.path + " needs 'bytes' (an integer >= 0) and 'sha1' (40 hex digits)");
    rec.bytes = bytes->get<std::uint64_t>();
    rec.sha1 = sha1->get<std::string>();
    listed.insert(rec.path);
    p.files.push_back(rec);
  }
  for (const char* required : {"runtime.json", "weights.bin"})
    if (!listed.count(required)) throw Error(where + ": 'files' does not list " + required);
  return listed;
}

// The optional 'tokenizer' object: its vocab and config files, each one of the listed files.
void read_tokenizer(const Json& j, const std::string& where, const std::set<std::string>& listed, PackageInfo& p) {
  const auto tok = j.find("tokenizer");
  if (tok == j.end() || tok->is_null()) return;
  if (!tok->is_object()) throw Error(where + ": 'tokenizer' must be an object or null");
  const std::string vocab = plain_name(tok->value("vocab", Json()), where);
  const std::string config = plain_name(tok->value("config", Json()), where);
  for (const auto& name : {vocab, config})
    if (!listed.count(name)) throw Error(where + ": the tokenizer's " + name + " is not listed in 'files'");
  p.has_tokenizer = true;
  p.vocab_file = p.dir / vocab;
  p.tokenizer_config_file = p.dir / config;
}

// One listed file against its record: present, of the recorded size and SHA-1.
void verify_file(const fs::path& f, const PackageInfo::File& rec) {
  std::error_code ec;
  if (!fs::is_regular_file(f, ec)) throw Error(f.string() + ": missing (package.json lists it)");
  const std::uint64_t size = fs::file_size(f, ec);
  if (ec) throw Error(f.string() + ": cannot read its size (" + ec.message() + ")");
  if (size != rec.bytes)
    throw Error(f.string() + ": " + std::to_string(size) + " bytes, package.json records " + std::to_string(rec.bytes) +
                " (the file is damaged or was changed after export)");
  std::string sha1;
  try {
    slimpipe::Hasher h;
    h.update_file(f);
    sha1 = h.hex();
  } catch (const slimpipe::Error& e) {
    throw Error(e.what());
  }
  if (sha1 != rec.sha1)
    throw Error(f.string() + ": SHA-1 " + sha1 + " differs from package.json's " + rec.sha1 +
                " (the file is damaged or was changed after export)");
}

}  // namespace

bool is_package(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "package.json", ec);
}

PackageInfo read_package(const fs::path& dir, bool verify_files) {
  const fs::path file = dir / "package.json";
  const std::string where = file.string();
  Json j;
  try {
    j = slimpipe::parse_json_file(file);
  } catch (const slimpipe::Error& e) {
    throw Error(e.what());
  }
  if (!j.is_object() || j.value("format", std::string()) != "slimpipe-package")
    throw Error(where + ": not a slimpipe runtime package (expected \"format\": \"slimpipe-package\")");
  PackageInfo p;
  p.dir = dir;
  read_settings(j, where, p);
  const std::set<std::string> listed = read_files(j, where, p);
  read_tokenizer(j, where, listed, p);
  if (!verify_files) return p;
  for (const auto& rec : p.files) verify_file(dir / rec.path, rec);
  return p;
}

}  // namespace slimpipe_runtime
