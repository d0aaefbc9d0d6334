// Writing files so that a full disk or an I/O error is a one-line slimpipe::Error naming the file
// ("out/model.pt: write failed: No space left on device"), never a short file that looks complete and never a
// throw from a destructor. Every write(2), the fsync and the close are checked. No LibTorch here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "slimpipe/error.hpp"
#include "slimpipe/export.hpp"

namespace slimpipe {

// Writes `bytes` to `path` (created or truncated), fsyncs and closes it. Throws Error naming the file:
// "<path>: cannot open for writing: <reason>", "<path>: write failed: <reason>". A regular file left
// incomplete by a failure is removed.
SLIMPIPE_API void write_file_checked(const std::filesystem::path& path, std::string_view bytes);

// As write_file_checked, through "<path>.tmp" renamed over `path` once complete: readers see the previous
// file or the whole new one, never a part.
SLIMPIPE_API void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// A file written piece by piece (large tensor data), with the same checks. close() must be called to
// finish it; a CheckedFile destroyed open (an exception on the way) closes quietly and removes the
// incomplete file if it is a regular file. Never throws from its destructor.
// With `atomic`, the bytes go to "<path>.tmp" and close() renames it over `path`; errors still name `path`.
class SLIMPIPE_API CheckedFile {
 public:
  CheckedFile() = default;
  explicit CheckedFile(const std::filesystem::path& path, bool atomic = false);  // creates or truncates; throws Error
  ~CheckedFile();
  CheckedFile(CheckedFile&& other) noexcept;
  CheckedFile& operator=(CheckedFile&& other) noexcept;
  CheckedFile(const CheckedFile&) = delete;
  CheckedFile& operator=(const CheckedFile&) = delete;

  void write(const void* data, std::size_t size);  // throws Error; the file is then removed
  void write(std::string_view text) { write(text.data(), text.size()); }
  // fsync + close; throws Error (and removes the file) if either fails.
  void close();
  // Closes without checks and removes an incomplete regular file; for error paths.
  void abandon() noexcept;

  bool is_open() const { return fd_ >= 0; }
  std::uint64_t bytes_written() const { return written_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  [[noreturn]] void fail(const char* what, int error);
  void remove_incomplete() noexcept;
  std::filesystem::path path_;          // the file the caller asked for: named in errors
  std::filesystem::path written_path_;  // path_, or path_ + ".tmp" when atomic
  bool atomic_ = false;
  int fd_ = -1;
  bool regular_ = false;
  std::uint64_t written_ = 0;
};

}  // namespace slimpipe
