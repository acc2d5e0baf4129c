# Cross-compiling for 64-bit Windows with Debian's MinGW-w64 (g++-mingw-w64-x86-64-posix: GCC 12,
# posix threads, msvcrt). Used for the dependencies (scripts/windows/build-deps.sh) and for Postern
# itself (scripts/windows/build.sh):
#
#   cmake -S . -B build-win -G Ninja --toolchain cmake/toolchain-mingw64.cmake \
#         -DPOSTERN_WIN_DEPS=<prefix printed by scripts/windows/build-deps.sh>
#
# Everything is linked statically (one postern.exe that imports only system DLLs; plugin DLLs carry
# their own libstdc++). Tests run through wine (CMAKE_CROSSCOMPILING_EMULATOR), so add_test() and
# gtest_discover_tests() need no change.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_SYSTEM_VERSION 10)

set(_mingw x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${_mingw}-gcc-posix)
set(CMAKE_CXX_COMPILER ${_mingw}-g++-posix)
set(CMAKE_RC_COMPILER ${_mingw}-windres)
# Not a CMake language: Poco's and Postern's message tables (.mc) are compiled with this.
set(CMAKE_MC_COMPILER /usr/bin/${_mingw}-windmc CACHE FILEPATH "MinGW message compiler")

# The dependency prefix travels into try_compile() projects through the environment as well.
if(NOT POSTERN_WIN_DEPS AND DEFINED ENV{POSTERN_WIN_DEPS})
  set(POSTERN_WIN_DEPS $ENV{POSTERN_WIN_DEPS})
endif()
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES POSTERN_WIN_DEPS)

# Prefixes passed in CMAKE_PREFIX_PATH (e.g. an installed Postern SDK) are searched as they are.
set(CMAKE_FIND_ROOT_PATH /usr/${_mingw} ${POSTERN_WIN_DEPS} ${CMAKE_PREFIX_PATH})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")

# Where build-deps.sh put each package (Debian's Poco patch installs its CMake files to <prefix>/cmake).
if(POSTERN_WIN_DEPS)
  set(Poco_DIR ${POSTERN_WIN_DEPS}/cmake CACHE PATH "" FORCE)
  set(GTest_DIR ${POSTERN_WIN_DEPS}/lib/cmake/GTest CACHE PATH "" FORCE)
  set(tomlplusplus_DIR ${POSTERN_WIN_DEPS}/lib/cmake/tomlplusplus CACHE PATH "" FORCE)
  set(OPENSSL_ROOT_DIR ${POSTERN_WIN_DEPS} CACHE PATH "" FORCE)
  set(OPENSSL_USE_STATIC_LIBS TRUE CACHE BOOL "" FORCE)
  set(Boost_INCLUDE_DIR ${POSTERN_WIN_DEPS}/include CACHE PATH "" FORCE)
  set(Boost_NO_SYSTEM_PATHS ON CACHE BOOL "" FORCE)
endif()

find_program(_postern_wine wine)
if(_postern_wine)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${_postern_wine})
endif()
