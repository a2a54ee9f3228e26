# Building freestanding 64-bit kernels with the HyperBIOS guest library.
#
#   hyperbios_add_kernel(NAME SOURCES file.cpp... [ISO] [BOOT_PROTOCOLS MULTIBOOT PVH]
#                        [OUTPUT_DIRECTORY dir] [LINKER_SCRIPT file.ld])
#
# produces NAME.elf64 (for gdb, and for direct-boot VMMs that load only ELF64) and
# NAME.elf (ELF32, which QEMU's -kernel, GRUB and the reference host all boot), and
# with ISO a GRUB rescue image NAME.iso for Bochs. One source file must include
# <hyperbios/boot/multiboot.hpp>.
#
# BOOT_PROTOCOLS says which ways in the boot stub carries: the Multiboot header,
# the PVH note, or both (the default). A loader that knows both picks one (QEMU's
# -kernel prefers Multiboot), so an image meant to prove the other carries only
# it. ISO needs MULTIBOOT: GRUB boots the image with its `multiboot` command.
# OUTPUT_DIRECTORY puts the images somewhere other than the current binary folder
# (tools that take every image of a folder can then be given only these).
# LINKER_SCRIPT links with the kernel's own script instead of boot/multiboot.ld;
# include/hyperbios/README.md says what the boot stub needs from it.

set(HYPERBIOS_GUEST_COMPILE_OPTIONS
    -ffreestanding -fno-exceptions -fno-rtti -nostdlib -mno-red-zone -mgeneral-regs-only
    -fno-pic -fno-pie -mcmodel=small -fno-stack-protector -fno-asynchronous-unwind-tables
    -fno-threadsafe-statics -fno-builtin -Wall -Wextra -Wpedantic -O2 -g)
set(HYPERBIOS_GUEST_LINK_OPTIONS
    -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=0x1000 -Wl,--no-warn-rwx-segments)
set(HYPERBIOS_GUEST_LINKER_SCRIPT ${PROJECT_SOURCE_DIR}/include/hyperbios/boot/multiboot.ld)

find_program(HYPERBIOS_OBJCOPY NAMES objcopy REQUIRED)
find_program(HYPERBIOS_GRUB_MKRESCUE NAMES grub-mkrescue)

function(hyperbios_add_kernel name)
  cmake_parse_arguments(K "ISO" "OUTPUT_DIRECTORY;LINKER_SCRIPT" "SOURCES;BOOT_PROTOCOLS" ${ARGN})
  if(NOT K_LINKER_SCRIPT)
    set(K_LINKER_SCRIPT ${HYPERBIOS_GUEST_LINKER_SCRIPT})
  endif()
  if(NOT K_OUTPUT_DIRECTORY)
    set(K_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  if(NOT K_BOOT_PROTOCOLS)
    set(K_BOOT_PROTOCOLS MULTIBOOT PVH)
  endif()
  foreach(protocol ${K_BOOT_PROTOCOLS})
    if(NOT protocol MATCHES "^(MULTIBOOT|PVH)$")
      message(FATAL_ERROR "hyperbios_add_kernel(${name}): unknown boot protocol ${protocol}; "
                          "BOOT_PROTOCOLS takes MULTIBOOT and PVH")
    endif()
  endforeach()
  if(K_ISO AND NOT "MULTIBOOT" IN_LIST K_BOOT_PROTOCOLS)
    message(FATAL_ERROR "hyperbios_add_kernel(${name}): ISO needs the MULTIBOOT protocol (GRUB's multiboot command)")
  endif()
  add_executable(${name} ${K_SOURCES})
  if(NOT "MULTIBOOT" IN_LIST K_BOOT_PROTOCOLS)
    target_compile_definitions(${name} PRIVATE HYPERBIOS_BOOT_NO_MULTIBOOT)
  endif()
  if(NOT "PVH" IN_LIST K_BOOT_PROTOCOLS)
    target_compile_definitions(${name} PRIVATE HYPERBIOS_BOOT_NO_PVH)
  endif()
  set_target_properties(${name} PROPERTIES SUFFIX ".elf64" RUNTIME_OUTPUT_DIRECTORY ${K_OUTPUT_DIRECTORY}
                        LINK_DEPENDS ${K_LINKER_SCRIPT})
  target_compile_options(${name} PRIVATE ${HYPERBIOS_GUEST_COMPILE_OPTIONS})
  target_link_options(${name} PRIVATE ${HYPERBIOS_GUEST_LINK_OPTIONS} -Wl,-T,${K_LINKER_SCRIPT})
  target_link_libraries(${name} PRIVATE hyperbios::hyperbios)
  set(elf32 ${K_OUTPUT_DIRECTORY}/${name}.elf)
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${HYPERBIOS_OBJCOPY} -O elf32-i386 $<TARGET_FILE:${name}> ${elf32}
    COMMENT "ELF32 copy of ${name} for Multiboot and PVH loaders")
  if(K_ISO)
    if(NOT HYPERBIOS_GRUB_MKRESCUE)
      message(FATAL_ERROR "grub-mkrescue not found: it builds the Bochs image of ${name}. "
                          "Install the dependencies with scripts/install-deps.")
    endif()
    set(iso_root ${CMAKE_CURRENT_BINARY_DIR}/${name}-iso)
    set(iso ${K_OUTPUT_DIRECTORY}/${name}.iso)
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

# Kernels written in C, with no C++ file of their own:
#
#   hyperbios_add_c_kernel(NAME SOURCES file.c... [OUTPUT_DIRECTORY dir])
#
# compiles the sources as C11 with C flags only, and links them with the prebuilt
# boot stub libhyperbios-boot.a (target hyperbios_boot: <hyperbios/boot/multiboot.hpp>
# with both boot protocols and the default IDT, calling kernel_main(uint32_t magic,
# uint32_t info)) and boot/multiboot.ld. The sources use <hyperbios/hyperbios.h>.
# Produces NAME.elf64 and NAME.elf, as hyperbios_add_kernel does.
set(HYPERBIOS_GUEST_C_COMPILE_OPTIONS
    -ffreestanding -nostdlib -mno-red-zone -mgeneral-regs-only -fno-pic -fno-pie -mcmodel=small
    -fno-stack-protector -fno-asynchronous-unwind-tables -fno-builtin -Wall -Wextra -Wpedantic -O2 -g)

function(hyperbios_add_c_kernel name)
  cmake_parse_arguments(K "" "OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT K_OUTPUT_DIRECTORY)
    set(K_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  add_executable(${name} ${K_SOURCES})
  set_target_properties(${name} PROPERTIES SUFFIX ".elf64" RUNTIME_OUTPUT_DIRECTORY ${K_OUTPUT_DIRECTORY}
                        LINK_DEPENDS ${HYPERBIOS_GUEST_LINKER_SCRIPT} LINKER_LANGUAGE C
                        C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
  target_compile_options(${name} PRIVATE ${HYPERBIOS_GUEST_C_COMPILE_OPTIONS})
  target_link_options(${name} PRIVATE ${HYPERBIOS_GUEST_LINK_OPTIONS} -Wl,-T,${HYPERBIOS_GUEST_LINKER_SCRIPT})
  # The archive by its file, not the target: linking the target would make CMake
  # add the C++ runtime (-lstdc++ -lm) for its C++ source, which the stub does not use.
  target_link_options(${name} PRIVATE -Wl,--undefined=hyperbios_boot_entry32)
  target_link_libraries(${name} PRIVATE hyperbios::hyperbios $<TARGET_FILE:hyperbios_boot>)
  add_dependencies(${name} hyperbios_boot)
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${HYPERBIOS_OBJCOPY} -O elf32-i386 $<TARGET_FILE:${name}> ${K_OUTPUT_DIRECTORY}/${name}.elf
    COMMENT "ELF32 copy of ${name} for Multiboot and PVH loaders")
endfunction()
