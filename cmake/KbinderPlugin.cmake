# SPDX-License-Identifier: Apache-2.0
# kbinder_add_plugin(<target> SOURCES <files...> [OUTPUT_DIR <dir>] [NO_INSTALL] [RAW])
#
# Builds a plugin shared object exactly as a vendor would: against abi/ only, with the lite
# protobuf runtime, every symbol hidden but the entry symbol (compiler visibility plus a linker
# version script), and the file named <target>.so. RAW skips the schema and the version script,
# for deliberately malformed test plugins.
set(KBINDER_PLUGIN_VERSION_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/plugin_exports.map)

function(kbinder_add_plugin target)
  cmake_parse_arguments(ARG "NO_INSTALL;RAW" "OUTPUT_DIR" "SOURCES" ${ARGN})
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${KBINDER_PLUGIN_OUTPUT_DIR})
  endif()
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR}
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${target} PRIVATE kbinder_abi)
  if(NOT ARG_RAW)
    target_link_libraries(${target} PRIVATE kbinder_plugin_sdk)
    target_link_options(${target} PRIVATE
      "LINKER:--version-script=${KBINDER_PLUGIN_VERSION_SCRIPT}")
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${KBINDER_PLUGIN_VERSION_SCRIPT})
    if(NOT KBINDER_SANITIZE)
      target_link_options(${target} PRIVATE "LINKER:-z,defs")
    endif()
  endif()
  if(NOT ARG_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION ${KBINDER_PLUGIN_SUBDIR})
  endif()
endfunction()
