# Install rules for the plugin SDK (install component "sdk"): the headers under
# include/postern/plugin and the CMake package `Postern` (PosternConfig.cmake,
# PosternConfigVersion.cmake, the exported target Postern::sdk and postern_add_plugin()).
# Included once from postern's own tree after the postern_sdk target exists.
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(_postern_sdk_src ${PROJECT_SOURCE_DIR}/core/include/postern/plugin)
set(POSTERN_SDK_INCLUDE_DIR include)
set(_postern_cmake_dir lib/cmake/Postern)

file(STRINGS ${_postern_sdk_src}/abi.h _abi_line REGEX "^#define POSTERN_PLUGIN_ABI_VERSION ")
string(REGEX REPLACE "^#define POSTERN_PLUGIN_ABI_VERSION ([0-9]+)u?.*$" "\\1"
       POSTERN_PLUGIN_ABI_VERSION "${_abi_line}")

# The SDK is C++20 (std::span) and header-only: carry both to consumers of Postern::sdk.
target_compile_features(postern_sdk INTERFACE cxx_std_20)
set_target_properties(postern_sdk PROPERTIES EXPORT_NAME sdk)

install(TARGETS postern_sdk EXPORT PosternTargets COMPONENT sdk)
install(DIRECTORY ${_postern_sdk_src}/ DESTINATION ${POSTERN_SDK_INCLUDE_DIR}/postern/plugin
        COMPONENT sdk FILES_MATCHING PATTERN "*.h")
install(EXPORT PosternTargets NAMESPACE Postern:: DESTINATION ${_postern_cmake_dir} COMPONENT sdk)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/PosternConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/PosternConfig.cmake
  INSTALL_DESTINATION ${_postern_cmake_dir}
  PATH_VARS POSTERN_SDK_INCLUDE_DIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/PosternConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/cmake/PosternConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/PosternConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/PosternPlugin.cmake
        DESTINATION ${_postern_cmake_dir} COMPONENT sdk)
