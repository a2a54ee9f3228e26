# Flags for host-side targets (the reference host, its tests and tools). Guest
# images get their own flags in HyperBIOSGuest.cmake and must not inherit these.
function(hyperbios_host_target target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(HYPERBIOS_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=undefined
                                             -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
