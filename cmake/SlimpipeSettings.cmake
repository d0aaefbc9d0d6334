# Settings every slimpipe build shares: the top-level CMakeLists.txt and runtime/CMakeLists.txt when the runtime
# is the top-level project. C++17, position-independent code, Release by default, ccache when present, the
# build tree laid out as the install tree (bin/, lib/), and SLIMPIPE_WARNINGS (with -Werror under SLIMPIPE_WERROR).
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

option(SLIMPIPE_BUILD_TESTS "Build the GoogleTest suites" ON)
option(SLIMPIPE_WERROR "Treat warnings as errors" OFF)

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
endif()

include(GNUInstallDirs)
set(CMAKE_RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/bin")
set(CMAKE_LIBRARY_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/lib")
set(CMAKE_ARCHIVE_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/lib")
set(CMAKE_BUILD_RPATH_USE_ORIGIN ON)

set(SLIMPIPE_WARNINGS -Wall -Wextra -Wno-unused-parameter)
if(SLIMPIPE_WERROR)
  list(APPEND SLIMPIPE_WARNINGS -Werror)
endif()
