# CTest driver for `plugin_sdk_out_of_tree` (cmake -P). Proves a third party can build a plugin with
# nothing but the installed SDK:
#   1. cmake --install <postern build> --component sdk --prefix <work>/prefix
#   2. configure + build tests/support/out_of_tree_plugin with CMAKE_PREFIX_PATH=<work>/prefix only
#   3. check the build used the installed headers, not the source tree's
#   4. load the result through the Registry (postern_out_of_tree_check)
# Inputs (-D): POSTERN_BUILD_DIR, POSTERN_SOURCE_DIR, WORK_DIR, CHECKER, GENERATOR, MAKE_PROGRAM,
# CXX_COMPILER; cross builds (MinGW) also TOOLCHAIN_FILE, EMULATOR (wine runs the checker) and
# MODULE_SUFFIX (.dll).
foreach(v POSTERN_BUILD_DIR POSTERN_SOURCE_DIR WORK_DIR CHECKER GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_out_of_tree_test.cmake: -D${v}=... is required")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REPLACE ";" " " shown "${ARGN}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "FAILED (${rc}): ${shown}\n${out}\n${err}")
  endif()
  message(STATUS "ok: ${shown}")
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# 1. Install only the SDK component.
run(${CMAKE_COMMAND} --install ${POSTERN_BUILD_DIR} --component sdk --prefix ${prefix})
foreach(f include/postern/plugin/abi.h include/postern/plugin/sdk.h
          lib/cmake/Postern/PosternConfig.cmake lib/cmake/Postern/PosternConfigVersion.cmake
          lib/cmake/Postern/PosternTargets.cmake lib/cmake/Postern/PosternPlugin.cmake)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "the sdk component did not install ${f}")
  endif()
endforeach()
file(GLOB_RECURSE installed RELATIVE ${prefix} ${prefix}/*)
foreach(f ${installed})
  if(f MATCHES "\\.(so|dll|a|lib)$" OR f MATCHES "^bin/")
    message(FATAL_ERROR "the sdk component installed a non-SDK file: ${f}")
  endif()
endforeach()

# 2. Configure and build the standalone plugin project against that prefix alone.
set(configure ${CMAKE_COMMAND} -S ${POSTERN_SOURCE_DIR}/tests/support/out_of_tree_plugin -B ${build}
    -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if(MAKE_PROGRAM)
  list(APPEND configure -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
if(TOOLCHAIN_FILE)
  list(APPEND configure --toolchain ${TOOLCHAIN_FILE})
endif()
run(${configure})
run(${CMAKE_COMMAND} --build ${build})

# 3. The package found must be the installed one, and the compile must not see postern's sources.
file(STRINGS ${build}/CMakeCache.txt postern_dir REGEX "^Postern_DIR:")
if(NOT postern_dir STREQUAL "Postern_DIR:PATH=${prefix}/lib/cmake/Postern")
  message(FATAL_ERROR "find_package(Postern) did not use the installed SDK: ${postern_dir}")
endif()
file(READ ${build}/compile_commands.json commands)
string(FIND "${commands}" "${POSTERN_SOURCE_DIR}/core" uses_source_tree)
if(NOT uses_source_tree EQUAL -1)
  message(FATAL_ERROR "the out-of-tree build used postern's source tree:\n${commands}")
endif()
string(FIND "${commands}" "${prefix}/include" uses_prefix)
if(uses_prefix EQUAL -1)
  message(FATAL_ERROR "the out-of-tree build did not use the installed headers:\n${commands}")
endif()

# 4. Load it through the Registry and drive it.
if(MODULE_SUFFIX)  # the target's suffix (this script runs on the build host)
  set(plugin ${build}/postern_probe_oot_banner${MODULE_SUFFIX})
elseif(WIN32)
  set(plugin ${build}/postern_probe_oot_banner.dll)
else()
  set(plugin ${build}/postern_probe_oot_banner.so)
endif()
if(NOT EXISTS ${plugin})
  message(FATAL_ERROR "the out-of-tree build produced no ${plugin}")
endif()
run(${EMULATOR} ${CHECKER} ${plugin})
message(STATUS "${last_output}")
