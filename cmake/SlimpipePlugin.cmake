# slimpipe_add_plugin(<target> SOURCES <src>... [OUTPUT_DIRECTORY <dir>] [NO_INSTALL])
#
# Builds a slimpipe plugin: a MODULE library linking only the SDK, with hidden visibility so
# that the single entry point exported by SLIMPIPE_PLUGIN(...) is the library's only symbol.
# Used both in-tree and, through the installed slimpipeConfig.cmake, by third-party plugins.
function(slimpipe_add_plugin target)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  add_library(${target} MODULE ${ARG_SOURCES})
  if(TARGET slimpipe_sdk)
    target_link_libraries(${target} PRIVATE slimpipe_sdk)
  else()
    target_link_libraries(${target} PRIVATE slimpipe::sdk)
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  elseif(DEFINED SLIMPIPE_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${SLIMPIPE_PLUGIN_OUTPUT_DIR}")
  endif()
  if(DEFINED SLIMPIPE_PLUGIN_INSTALL_DIR)
    # In-tree plugins sit in lib/slimpipe/plugins and find the SDK in lib/.
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN/../..")
    set_target_properties(${target} PROPERTIES BUILD_RPATH "$ORIGIN/../..")
    if(NOT ARG_NO_INSTALL)
      install(TARGETS ${target} LIBRARY DESTINATION ${SLIMPIPE_PLUGIN_INSTALL_DIR})
    endif()
  endif()
endfunction()
