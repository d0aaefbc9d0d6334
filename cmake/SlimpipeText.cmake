# slimpipe_text (libslimpipe_text.so): the torch-free base that both libslimpipe_sdk.so and slimpipe_runtime
# link: the BERT WordPiece tokenizer and its Unicode tables (sdk/src/text), tokenizer_config.json, the
# slimpipe::Error classes, checked file writes, depth-checked JSON reading, UTF-8 text files, SHA-1, and the
# decoding the tasks and the runtime share (BIO chunks, metrics/chunk.cpp; QA windows and spans, tasks/qa_spans.cpp).
# Its sources stay in their SDK folders; the SDK's own glob leaves them out (sdk/CMakeLists.txt). It includes no
# LibTorch header and links no LibTorch library (scripts/runtime_only_check.sh checks both).
#
# Included by the top-level CMakeLists.txt and by runtime/CMakeLists.txt (standalone runtime builds); needs the
# targets nlohmann_json::nlohmann_json and Boost::headers.
if(TARGET slimpipe_text)
  return()
endif()

get_filename_component(SLIMPIPE_TEXT_SDK_DIR "${CMAKE_CURRENT_LIST_DIR}/../sdk" ABSOLUTE)
file(GLOB SLIMPIPE_TEXT_SOURCES CONFIGURE_DEPENDS "${SLIMPIPE_TEXT_SDK_DIR}/src/text/*.cpp")
list(APPEND SLIMPIPE_TEXT_SOURCES
  "${SLIMPIPE_TEXT_SDK_DIR}/src/core/error.cpp"
  "${SLIMPIPE_TEXT_SDK_DIR}/src/core/hash.cpp"
  "${SLIMPIPE_TEXT_SDK_DIR}/src/io/checked_file.cpp"
  "${SLIMPIPE_TEXT_SDK_DIR}/src/io/json_file.cpp"
  "${SLIMPIPE_TEXT_SDK_DIR}/src/data/text_file.cpp"
  "${SLIMPIPE_TEXT_SDK_DIR}/src/data/utf8.cpp"
  "${SLIMPIPE_TEXT_SDK_DIR}/src/metrics/chunk.cpp"
  "${SLIMPIPE_TEXT_SDK_DIR}/src/tasks/qa_spans.cpp")

# The public headers of the library (installed with the runtime): those of its sources and what they include.
set(SLIMPIPE_TEXT_HEADERS
  slimpipe/export.hpp slimpipe/error.hpp slimpipe/params.hpp slimpipe/hash.hpp
  slimpipe/io/checked_file.hpp slimpipe/io/json_file.hpp slimpipe/data/text_file.hpp slimpipe/data/utf8.hpp
  slimpipe/metrics/chunk.hpp slimpipe/tasks/qa_spans.hpp)
file(GLOB _slimpipe_text_public RELATIVE "${SLIMPIPE_TEXT_SDK_DIR}/include"
  "${SLIMPIPE_TEXT_SDK_DIR}/include/slimpipe/text/*.hpp")
list(APPEND SLIMPIPE_TEXT_HEADERS ${_slimpipe_text_public})

add_library(slimpipe_text SHARED ${SLIMPIPE_TEXT_SOURCES})
set_target_properties(slimpipe_text PROPERTIES
  OUTPUT_NAME slimpipe_text
  EXPORT_NAME text
  POSITION_INDEPENDENT_CODE ON
  CXX_VISIBILITY_PRESET hidden
  VISIBILITY_INLINES_HIDDEN ON
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR})
target_include_directories(slimpipe_text PUBLIC
  $<BUILD_INTERFACE:${SLIMPIPE_TEXT_SDK_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_include_directories(slimpipe_text PRIVATE "${SLIMPIPE_TEXT_SDK_DIR}/src")
target_link_libraries(slimpipe_text PUBLIC nlohmann_json::nlohmann_json PRIVATE Boost::headers)
target_compile_options(slimpipe_text PRIVATE ${SLIMPIPE_WARNINGS})
