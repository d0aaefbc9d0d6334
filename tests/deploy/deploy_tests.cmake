# Tests of the C API (libslimpipe_runtime_c.so), the Python module (runtime/python) and slimpipe-serve: no
# LibTorch, so both the full build (tests/CMakeLists.txt) and the runtime-only build (runtime/CMakeLists.txt)
# include this file. Their packages are written by make_test_package (the tiny model of tests/runtime) in a
# fixture that runs first.
enable_language(C)
find_package(Threads REQUIRED)
set(_deploy_dir "${CMAKE_CURRENT_LIST_DIR}")
get_filename_component(_deploy_repo "${_deploy_dir}/../.." ABSOLUTE)
set(_deploy_tmp "${CMAKE_BINARY_DIR}/tests/runtime_tmp/deploy")

add_executable(make_test_package "${_deploy_dir}/tools/make_test_package.cpp" "${_deploy_repo}/tests/runtime/tiny_model.cpp")
target_include_directories(make_test_package PRIVATE "${_deploy_repo}/tests/runtime")
target_link_libraries(make_test_package PRIVATE slimpipe_runtime nlohmann_json::nlohmann_json)
target_compile_options(make_test_package PRIVATE ${SLIMPIPE_WARNINGS})
target_compile_definitions(make_test_package PRIVATE SLIMPIPE_BINARY_DIR="${CMAKE_BINARY_DIR}")

add_executable(c_api_test "${_deploy_dir}/c_api_test.c")
set_target_properties(c_api_test PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_link_libraries(c_api_test PRIVATE slimpipe_runtime_c Threads::Threads m)
target_compile_options(c_api_test PRIVATE -Wall -Wextra -pedantic $<$<BOOL:${SLIMPIPE_WERROR}>:-Werror>)

# seq_cls/, token_cls/, qa/; damaged/ (weights.bin changed after its SHA-1 was recorded); token_cls_strict/ and
# qa_short/ (package.json records decoding options).
add_test(NAME Deploy.MakePackages COMMAND make_test_package --all "${_deploy_tmp}")
set_tests_properties(Deploy.MakePackages PROPERTIES FIXTURES_SETUP deploy_packages)

add_test(NAME Deploy.CApi COMMAND c_api_test "${_deploy_tmp}")
set_tests_properties(Deploy.CApi PROPERTIES FIXTURES_REQUIRED deploy_packages)
add_test(NAME Deploy.CApiExportsOnlyTheCApi COMMAND sh -c
  "! nm -D --defined-only \"$0\" | awk '{print $3}' | grep -v -e '^slimpipe_' -e '^$'"
  "$<TARGET_FILE:slimpipe_runtime_c>")

# Debian's python3 with -I -S: no site-packages, no PYTHON* variables; the module is found from its path alone.
find_program(SLIMPIPE_SYSTEM_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(SLIMPIPE_SYSTEM_PYTHON3)
  add_test(NAME Deploy.Python COMMAND "${SLIMPIPE_SYSTEM_PYTHON3}" -I -S -B "${_deploy_dir}/python_test.py"
    "${_deploy_repo}/runtime/python" "${_deploy_tmp}")
  set_tests_properties(Deploy.Python PROPERTIES FIXTURES_REQUIRED deploy_packages
    ENVIRONMENT "SLIMPIPE_RUNTIME_LIB=$<TARGET_FILE:slimpipe_runtime_c>")
endif()

if(SLIMPIPE_SYSTEM_PYTHON3 AND TARGET slimpipe-serve)
  add_test(NAME Deploy.Serve COMMAND "${SLIMPIPE_SYSTEM_PYTHON3}" -I -S "${_deploy_dir}/serve_test.py"
    "$<TARGET_FILE:slimpipe-serve>" "${_deploy_tmp}/seq_cls" "${_deploy_tmp}/qa" "${_deploy_tmp}")
  set_tests_properties(Deploy.Serve PROPERTIES FIXTURES_REQUIRED deploy_packages TIMEOUT 120)
endif()
