# postern_add_plugin(<target> KIND <balancer|discovery|probe> NAME <name> SOURCES <files...>)
# Builds a plugin exactly as a third party would: a MODULE library against the SDK headers only,
# hidden visibility (only postern_plugin_descriptor is exported), named postern_<kind>_<name>.
function(postern_add_plugin target)
  cmake_parse_arguments(P "" "KIND;NAME;OUTPUT_DIR" "SOURCES" ${ARGN})
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
endfunction()
