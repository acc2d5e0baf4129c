# postern_add_plugin(<target> KIND <balancer|discovery|probe> NAME <name> SOURCES <files...>
#                    [OUTPUT_DIR <dir>] [INSTALL_DIR <dir>] [COMPONENT <component>] [NO_INSTALL])
#
# Builds a plugin exactly as a third party would: a MODULE library against the SDK headers only,
# hidden visibility (only postern_plugin_descriptor is exported), named postern_<kind>_<name>
# (.so on Linux, .dll on Windows).
#
# Installed (unless NO_INSTALL) into INSTALL_DIR, by default where postern looks for plugins next to
# its binary: lib/postern/plugins (Linux: /usr/bin/postern -> /usr/lib/postern/plugins) or
# bin/plugins on Windows, in install component COMPONENT (default "runtime").
#
# This file is shipped in the Postern CMake package (find_package(Postern)), so it must work both
# inside postern's own tree (target postern_sdk) and outside it (imported target Postern::sdk).
function(postern_add_plugin target)
  cmake_parse_arguments(P "NO_INSTALL" "KIND;NAME;OUTPUT_DIR;INSTALL_DIR;COMPONENT" "SOURCES" ${ARGN})
  if(NOT P_KIND MATCHES "^(balancer|discovery|probe)$")
    message(FATAL_ERROR "postern_add_plugin(${target}): KIND must be balancer, discovery or probe")
  endif()
  if(NOT P_NAME MATCHES "^[a-z0-9_]+$")
    message(FATAL_ERROR "postern_add_plugin(${target}): NAME must match [a-z0-9_]+")
  endif()
  if(NOT P_SOURCES)
    message(FATAL_ERROR "postern_add_plugin(${target}): SOURCES is required")
  endif()
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "postern_${P_KIND}_${P_NAME}"
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(P_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR})
  elseif(DEFINED POSTERN_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${POSTERN_PLUGIN_OUTPUT_DIR})
  endif()
  if(TARGET postern_sdk)
    target_link_libraries(${target} PRIVATE postern_sdk)
  else()
    target_link_libraries(${target} PRIVATE Postern::sdk)
  endif()
  if(TARGET postern_warnings)
    target_link_libraries(${target} PRIVATE postern_warnings)
  endif()
  if(NOT P_NO_INSTALL)
    if(NOT P_INSTALL_DIR)
      if(WIN32)
        set(P_INSTALL_DIR bin/plugins)
      else()
        set(P_INSTALL_DIR lib/postern/plugins)
      endif()
    endif()
    if(NOT P_COMPONENT)
      set(P_COMPONENT runtime)
    endif()
    install(TARGETS ${target} LIBRARY DESTINATION ${P_INSTALL_DIR} COMPONENT ${P_COMPONENT})
  endif()
endfunction()
