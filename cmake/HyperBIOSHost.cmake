# Flags for host-side targets (the reference host, its tests and tools). Guest
# images get their own flags in HyperBIOSGuest.cmake and must not inherit these.
#
# Optimised builds use -O3 and link-time optimisation: a HyperBIOS call crosses
# the accelerator, the machine, the dispatcher and a service, and LTO flattens
# that path (measured: 2-3 points off the KVM call ratio in bench-kvm-calls).
include(CheckIPOSupported)
check_ipo_supported(RESULT HYPERBIOS_IPO_SUPPORTED OUTPUT HYPERBIOS_IPO_MESSAGE LANGUAGES CXX)

function(hyperbios_host_target target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(HYPERBIOS_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=undefined
                                             -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  elseif(CMAKE_BUILD_TYPE MATCHES "Rel")
    target_compile_options(${target} PRIVATE -O3)
    if(HYPERBIOS_IPO_SUPPORTED)
      set_target_properties(${target} PROPERTIES INTERPROCEDURAL_OPTIMIZATION ON)
    endif()
  endif()
endfunction()
