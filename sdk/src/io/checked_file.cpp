// Checked file writes: POSIX open / write / fsync / close, each result looked at. iostreams report a full
// disk only as a failbit, at a point that depends on their buffer, and say nothing of the cause.
#include "slimpipe/io/checked_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace slimpipe {
namespace fs = std::filesystem;

CheckedFile::CheckedFile(const fs::path& path, bool atomic) : path_(path), written_path_(path), atomic_(atomic) {
  if (atomic_) written_path_ += ".tmp";
  do fd_ = ::open(written_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) throw Error(path_.string() + ": cannot open for writing: " + std::strerror(errno));
  struct stat st {};
  regular_ = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
}

CheckedFile::~CheckedFile() { abandon(); }

CheckedFile::CheckedFile(CheckedFile&& other) noexcept
    : path_(std::move(other.path_)),
      written_path_(std::move(other.written_path_)),
      atomic_(other.atomic_),
      fd_(std::exchange(other.fd_, -1)),
      regular_(other.regular_),
      written_(other.written_) {}

CheckedFile& CheckedFile::operator=(CheckedFile&& other) noexcept {
  if (this != &other) {
    abandon();
    path_ = std::move(other.path_);
    written_path_ = std::move(other.written_path_);
    atomic_ = other.atomic_;
    fd_ = std::exchange(other.fd_, -1);
    regular_ = other.regular_;
    written_ = other.written_;
  }
  return *this;
}

void CheckedFile::remove_incomplete() noexcept {
  // Only a regular file is removed: never a device such as /dev/full that a caller pointed us at.
  if (!regular_) return;
  std::error_code ec;
  fs::remove(written_path_, ec);
}

void CheckedFile::abandon() noexcept {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  remove_incomplete();
}

void CheckedFile::fail(const char* what, int error) {
  abandon();
  throw Error(path_.string() + ": " + what + ": " + std::strerror(error));
}

void CheckedFile::write(const void* data, std::size_t size) {
  if (fd_ < 0) throw Error(path_.string() + ": write failed: the file is not open");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    // Linux writes at most 0x7ffff000 bytes a call; ask for no more than 1 GiB at a time.
    const std::size_t chunk = size < (std::size_t{1} << 30) ? size : (std::size_t{1} << 30);
    const ssize_t n = ::write(fd_, p, chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed", errno);
    }
    if (n == 0) fail("write failed", ENOSPC);  // no progress: a full device that reports no error
    p += n;
    size -= static_cast<std::size_t>(n);
    written_ += static_cast<std::uint64_t>(n);
  }
}

void CheckedFile::close() {
  if (fd_ < 0) return;
  // A file system may accept write() and report the lost space only at fsync or close (NFS, quotas).
  // Devices and pipes cannot be synced (EINVAL): nothing is lost there.
  if (::fsync(fd_) != 0 && errno != EINVAL && errno != EROFS && errno != ENOTSUP) fail("write failed", errno);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && errno != EINTR) {
    const int error = errno;
    remove_incomplete();
    throw Error(path_.string() + ": write failed: " + std::strerror(error));
  }
  if (atomic_) {
    std::error_code ec;
    fs::rename(written_path_, path_, ec);
    if (ec) {
      remove_incomplete();
      throw Error(path_.string() + ": cannot move the written file into place: " + ec.message());
    }
  }
}

void write_file_checked(const fs::path& path, std::string_view bytes) {
  CheckedFile file(path);
  file.write(bytes);
  file.close();
}

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  CheckedFile file(path, /*atomic=*/true);
  file.write(bytes);
  file.close();
}

}  // namespace slimpipe
