// Helpers of the multi-process tests: a scratch folder per test, a shell command's exit status and stderr, a file's
// text.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace slimpipe::dist_test {

namespace fs = std::filesystem;

// A fresh folder under the temporary directory for test `tag`, removed by the destructor.
class Scratch {
 public:
  explicit Scratch(const std::string& tag)
      : dir_(fs::temp_directory_path() / ("slimpipe-" + tag + "-" + std::to_string(::getpid()))) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }
  std::string operator/(const std::string& name) const { return (dir_ / name).string(); }

 private:
  fs::path dir_;
};

inline std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Outcome {
  int status = -1;  // the command's exit status
  std::string err;  // its stderr
};

// Runs `command` with bash, its stderr kept in `scratch`'s file `name`.err.
inline Outcome run_shell(const std::string& command, const Scratch& scratch, const std::string& name) {
  const std::string err = scratch / (name + ".err");
  std::ofstream script(scratch / (name + ".sh"));
  script << command << " 2> '" << err << "'\n";
  script.close();
  const int rc = std::system(("bash '" + (scratch / (name + ".sh")) + "'").c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, read_text(err)};
}

}  // namespace slimpipe::dist_test
