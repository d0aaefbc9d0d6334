// Reads one section of an ELF64 shared library straight from the file, without loading it: a minimal parser of
// the ELF header, the section header table and the section name string table, which checks every offset and
// size against the file's size, so a truncated or damaged file is an error, never a read out of bounds.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace slimpipe::core {

// The file is not a well-formed ELF64 shared library of this machine's byte order, or cannot be read. what()
// says why in a few words, without the file's name.
class ElfError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The bytes of the section called `name` in `file`, or nullopt when the file has no such section (or no section
// header table at all). A section of that name larger than max_size is an ElfError. Throws ElfError.
std::optional<std::string> read_elf_section(const std::filesystem::path& file, std::string_view name,
                                            std::size_t max_size);

}  // namespace slimpipe::core
