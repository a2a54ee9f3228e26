# Flags for host-side targets (the reference host, its tests and tools). Guest
# images get their own flags in HyperBIOSGuest.cmake and must not inherit these.
#
# Optimised builds use -O3 and link-time optimisation: a HyperBIOS call crosses
# the accelerator, the machine, the dispatcher and a service, and LTO flattens
# that path (measured: 2-3 points off the KVM call ratio in bench-kvm-calls).
include(CheckIPOSupported)
check_ipo_supported(RESULT HYPERBIOS_IPO_SUPPORTED OUTPUT HYPERBIOS_IPO_MESSAGE LANGUAGES CXX)

# libFuzzer builds (clang only): the host code gets the fuzzer's coverage
# instrumentation with ASan and UBSan; reference-host/fuzz/ adds the fuzz targets.
option(HYPERBIOS_FUZZ "Instrument the reference host for libFuzzer and build reference-host/fuzz (clang)" OFF)

# CI builds with HYPERBIOS_WERROR=ON in the environment (.ci/run); a user's newer
# compiler may warn about new things, which should not break their build.
if(DEFINED ENV{HYPERBIOS_WERROR})
  set(hyperbios_werror_default $ENV{HYPERBIOS_WERROR})
else()
  set(hyperbios_werror_default OFF)
endif()
option(HYPERBIOS_WERROR "Treat warnings in host code as errors" ${hyperbios_werror_default})

function(hyperbios_host_target target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(HYPERBIOS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(HYPERBIOS_FUZZ)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                                             -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
  elseif(HYPERBIOS_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=undefined
                                             -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
    # GCC 12's -Wmaybe-uninitialized misfires under ASan's instrumentation
    # (a json::value std::variant built from an initializer list in
    # control/control_socket.cpp); the optimised build keeps the warning, so
    # it still guards the code.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
    endif()
  elseif(CMAKE_BUILD_TYPE MATCHES "Rel")
    target_compile_options(${target} PRIVATE -O3)
    if(HYPERBIOS_IPO_SUPPORTED)
      set_target_properties(${target} PROPERTIES INTERPROCEDURAL_OPTIMIZATION ON)
    endif()
  endif()
endfunction()
