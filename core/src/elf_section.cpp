// A minimal ELF64 reader (elf_section.hpp): header, section header table, section names, one section's bytes.
// Every offset and size comes from the file, so each is checked against the file's size before it is used.
#include "elf_section.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

namespace slimpipe::core {

namespace {

// The longest section name table read: real ones are a few hundred bytes.
constexpr std::uint64_t kMaxNameTable = 16u << 20;

class ElfFile {
 public:
  explicit ElfFile(const std::filesystem::path& file) : fd_(::open(file.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) throw ElfError(std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      const int err = errno;
      ::close(fd_);
      throw ElfError(std::string("cannot examine: ") + std::strerror(err));
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;
  ~ElfFile() { ::close(fd_); }

  std::uint64_t size() const { return size_; }

  // `count` bytes at `offset`; `what` names them when they lie (partly) past the end of the file.
  std::string read(std::uint64_t offset, std::uint64_t count, const std::string& what) const {
    if (offset > size_ || count > size_ - offset)
      throw ElfError("truncated: " + what + " (offset " + std::to_string(offset) + ", " + std::to_string(count) +
                     " bytes) runs past the end of the file (" + std::to_string(size_) + " bytes)");
    std::string out(static_cast<std::size_t>(count), '\0');
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw ElfError("cannot read " + what + ": " + std::strerror(errno));
      if (n == 0) throw ElfError("cannot read " + what + ": the file shrank while it was read");
      done += static_cast<std::size_t>(n);
    }
    return out;
  }

 private:
  int fd_;
  std::uint64_t size_ = 0;
};

template <typename T>
T view_as(const std::string& bytes, std::size_t at = 0) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof(T));
  return v;
}

constexpr unsigned char kHostByteOrder = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;

Elf64_Ehdr read_header(const ElfFile& f) {
  if (f.size() == 0) throw ElfError("empty file");
  const std::string head = f.read(0, std::min<std::uint64_t>(f.size(), sizeof(Elf64_Ehdr)), "ELF header");
  if (head.size() < SELFMAG || std::memcmp(head.data(), ELFMAG, SELFMAG) != 0) throw ElfError("not an ELF file");
  if (head.size() < sizeof(Elf64_Ehdr))
    throw ElfError("file too short: " + std::to_string(f.size()) + " bytes, less than an ELF64 header (" +
                   std::to_string(sizeof(Elf64_Ehdr)) + ")");
  const auto eh = view_as<Elf64_Ehdr>(head);
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) throw ElfError("not a 64-bit ELF file");
  if (eh.e_ident[EI_DATA] != kHostByteOrder) throw ElfError("ELF file of the other byte order");
  if (eh.e_type != ET_DYN) throw ElfError("not a shared library (ELF type " + std::to_string(eh.e_type) + ")");
  return eh;
}

// The section header table, with the extended numbering of files of 0xff00 sections or more resolved.
struct SectionTable {
  std::vector<Elf64_Shdr> sections;
  std::uint64_t name_index = 0;
};

SectionTable read_sections(const ElfFile& f, const Elf64_Ehdr& eh) {
  if (eh.e_shentsize != sizeof(Elf64_Shdr))
    throw ElfError("section header entries of " + std::to_string(eh.e_shentsize) + " bytes, expected " +
                   std::to_string(sizeof(Elf64_Shdr)));
  SectionTable t;
  std::uint64_t count = eh.e_shnum;
  t.name_index = eh.e_shstrndx;
  if (count == 0 || t.name_index == SHN_XINDEX) {  // the real values live in section 0
    const auto first = view_as<Elf64_Shdr>(f.read(eh.e_shoff, sizeof(Elf64_Shdr), "section header 0"));
    if (count == 0) count = first.sh_size;
    if (t.name_index == SHN_XINDEX) t.name_index = first.sh_link;
  }
  if (count > f.size() / sizeof(Elf64_Shdr))
    throw ElfError("truncated: section header table (offset " + std::to_string(eh.e_shoff) + ", " +
                   std::to_string(count) + " entries) runs past the end of the file (" + std::to_string(f.size()) +
                   " bytes)");
  const std::string bytes = f.read(eh.e_shoff, count * sizeof(Elf64_Shdr), "section header table");
  t.sections.resize(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < t.sections.size(); ++i)
    t.sections[i] = view_as<Elf64_Shdr>(bytes, i * sizeof(Elf64_Shdr));
  if (t.name_index >= count)
    throw ElfError("section name table index " + std::to_string(t.name_index) + " is out of range (" +
                   std::to_string(count) + " sections)");
  return t;
}

// Section `i`'s name, checked to lie within the name table and to end there.
std::string_view section_name(const std::string& names, const Elf64_Shdr& s, std::size_t i) {
  if (s.sh_name >= names.size())
    throw ElfError("section " + std::to_string(i) + "'s name offset " + std::to_string(s.sh_name) +
                   " lies outside the section name table (" + std::to_string(names.size()) + " bytes)");
  const char* start = names.data() + s.sh_name;
  const void* end = std::memchr(start, '\0', names.size() - s.sh_name);
  if (!end) throw ElfError("section " + std::to_string(i) + "'s name runs past the end of the section name table");
  return std::string_view(start, static_cast<std::size_t>(static_cast<const char*>(end) - start));
}

}  // namespace

std::optional<std::string> read_elf_section(const std::filesystem::path& file, std::string_view name,
                                            std::size_t max_size) {
  const ElfFile f(file);
  const Elf64_Ehdr eh = read_header(f);
  if (eh.e_shoff == 0) return std::nullopt;  // no section header table
  const SectionTable t = read_sections(f, eh);
  const Elf64_Shdr& table = t.sections[static_cast<std::size_t>(t.name_index)];
  if (table.sh_type == SHT_NOBITS) throw ElfError("the section name table holds no bytes in the file");
  if (table.sh_size > kMaxNameTable)
    throw ElfError("section name table of " + std::to_string(table.sh_size) + " bytes, more than " +
                   std::to_string(kMaxNameTable));
  const std::string names = f.read(table.sh_offset, table.sh_size, "section name table");
  for (std::size_t i = 0; i < t.sections.size(); ++i) {
    const Elf64_Shdr& s = t.sections[i];
    if (section_name(names, s, i) != name) continue;
    const std::string what = "section " + std::string(name);
    if (s.sh_type == SHT_NOBITS) throw ElfError(what + " holds no bytes in the file");
    if (s.sh_size > max_size)
      throw ElfError(what + " is " + std::to_string(s.sh_size) + " bytes, more than " + std::to_string(max_size));
    return f.read(s.sh_offset, s.sh_size, what);
  }
  return std::nullopt;
}

}  // namespace slimpipe::core
