# Building freestanding 64-bit kernels with the HyperBIOS guest library.
#
#   hyperbios_add_kernel(NAME SOURCES file.cpp... [ISO])
#
# produces NAME.elf64 (for gdb) and NAME.elf (ELF32, which QEMU's -kernel, GRUB and
# the reference host all boot), and with ISO a GRUB rescue image NAME.iso for
# Bochs. One source file must include <hyperbios/boot/multiboot.hpp>.

set(HYPERBIOS_GUEST_COMPILE_OPTIONS
    -ffreestanding -fno-exceptions -fno-rtti -nostdlib -mno-red-zone -mgeneral-regs-only
    -fno-pic -fno-pie -mcmodel=small -fno-stack-protector -fno-asynchronous-unwind-tables
    -fno-threadsafe-statics -fno-builtin -Wall -Wextra -Wpedantic -O2 -g)
set(HYPERBIOS_GUEST_LINK_OPTIONS
    -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=0x1000 -Wl,--no-warn-rwx-segments
    -Wl,-T,${PROJECT_SOURCE_DIR}/include/hyperbios/boot/multiboot.ld)

find_program(HYPERBIOS_OBJCOPY NAMES objcopy REQUIRED)
find_program(HYPERBIOS_GRUB_MKRESCUE NAMES grub-mkrescue)

function(hyperbios_add_kernel name)
  cmake_parse_arguments(K "ISO" "" "SOURCES" ${ARGN})
  add_executable(${name} ${K_SOURCES})
  set_target_properties(${name} PROPERTIES SUFFIX ".elf64" LINK_DEPENDS
                        ${PROJECT_SOURCE_DIR}/include/hyperbios/boot/multiboot.ld)
  target_compile_options(${name} PRIVATE ${HYPERBIOS_GUEST_COMPILE_OPTIONS})
  target_link_options(${name} PRIVATE ${HYPERBIOS_GUEST_LINK_OPTIONS})
  target_link_libraries(${name} PRIVATE hyperbios::hyperbios)
  set(elf32 ${CMAKE_CURRENT_BINARY_DIR}/${name}.elf)
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${HYPERBIOS_OBJCOPY} -O elf32-i386 $<TARGET_FILE:${name}> ${elf32}
    COMMENT "ELF32 copy of ${name} for Multiboot loaders")
  if(K_ISO)
    if(NOT HYPERBIOS_GRUB_MKRESCUE)
      message(FATAL_ERROR "grub-mkrescue not found: it builds the Bochs image of ${name}. "
                          "Install the dependencies with scripts/install-deps.")
    endif()
    set(iso_root ${CMAKE_CURRENT_BINARY_DIR}/${name}-iso)
    set(iso ${CMAKE_CURRENT_BINARY_DIR}/${name}.iso)
    file(WRITE ${iso_root}/boot/grub/grub.cfg
         "set timeout=0\nmenuentry ${name} {\n  multiboot /boot/kernel.elf\n  boot\n}\n")
    add_custom_command(OUTPUT ${iso}
      COMMAND ${CMAKE_COMMAND} -E copy ${elf32} ${iso_root}/boot/kernel.elf
      COMMAND sh ${PROJECT_SOURCE_DIR}/cmake/make-grub-iso.sh ${HYPERBIOS_GRUB_MKRESCUE} ${iso} ${iso_root}
      DEPENDS ${name}
      COMMENT "GRUB rescue image ${name}.iso")
    add_custom_target(${name}-iso ALL DEPENDS ${iso})
  endif()
endfunction()
