# Building freestanding 64-bit kernels with the HyperBIOS guest library: in this
# source tree, and from an installed package (hyperbiosConfig.cmake includes this
# file after setting where the headers are).
#
#   hyperbios_add_kernel(NAME SOURCES file.cpp|file.c... [ISO] [BOOT_PROTOCOLS MULTIBOOT PVH]
#                        [OUTPUT_DIRECTORY dir] [LINKER_SCRIPT file.ld]
#                        [INCLUDE_DIRECTORIES dir...] [COMPILE_OPTIONS option...]
#                        [LINK_OPTIONS option...] [LIBRARIES archive...])
#
# produces NAME.elf64 (for gdb, and for direct-boot VMMs that load only ELF64) and
# NAME.elf (ELF32, which QEMU's -kernel, GRUB and the reference host all boot), and
# with ISO a GRUB rescue image NAME.iso for Bochs; the target NAME builds them. A
# C++ kernel includes <hyperbios/boot/multiboot.hpp> in one source file; a kernel
# of C sources only is linked with the boot library (HYPERBIOS_BOOT_LIBRARY) that
# holds the same boot stub, and defines kernel_main. LIBRARIES are freestanding
# archives linked after the kernel's objects (${HYPERBIOS_NET_LIBRARY}, the
# network stack).
#
# Kernels are compiled and linked by custom commands with the flags below and
# nothing else: the project's CMAKE_<LANG>_FLAGS, sanitizers, -fPIE
# (POSITION_INDEPENDENT_CODE), directory-wide definitions and options never reach
# a kernel, and nothing of a kernel's reaches the project's host targets.
#
# BOOT_PROTOCOLS says which ways in the boot stub carries: the Multiboot header,
# the PVH note, or both (the default). A loader that knows both picks one (QEMU's
# -kernel prefers Multiboot), so an image meant to prove the other carries only
# it. ISO needs MULTIBOOT: GRUB boots the image with its `multiboot` command.
# OUTPUT_DIRECTORY puts the images somewhere other than the current binary folder
# (tools that take every image of a folder can then be given only these).
# LINKER_SCRIPT links with the kernel's own script instead of boot/multiboot.ld;
# include/hyperbios/README.md says what the boot stub needs from it.

if(NOT HYPERBIOS_GUEST_INCLUDE_DIR)
  message(FATAL_ERROR "HyperBIOSGuest.cmake: set HYPERBIOS_GUEST_INCLUDE_DIR (the folder that holds hyperbios/) "
                      "before including it, or use find_package(hyperbios)")
endif()

# The flags of every kernel, in three lists that the pkg-config file is also made
# from (cmake/hyperbios.pc.in): so a Makefile gets exactly these.
set(HYPERBIOS_GUEST_COMMON_OPTIONS
    -ffreestanding -nostdlib -mno-red-zone -mgeneral-regs-only -fno-pic -fno-pie -mcmodel=small
    -fno-stack-protector -fno-asynchronous-unwind-tables -fno-builtin)
set(HYPERBIOS_GUEST_CXX_OPTIONS -std=c++20 -fno-exceptions -fno-rtti -fno-threadsafe-statics)
set(HYPERBIOS_GUEST_C_OPTIONS -std=c11)
set(HYPERBIOS_GUEST_WARNING_OPTIONS -Wall -Wextra -Wpedantic)
set(HYPERBIOS_GUEST_LINK_OPTIONS
    -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=0x1000 -Wl,--no-warn-rwx-segments)
set(HYPERBIOS_GUEST_LINKER_SCRIPT ${HYPERBIOS_GUEST_INCLUDE_DIR}/hyperbios/boot/multiboot.ld)
set(HYPERBIOS_GRUB_ISO_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/make-grub-iso.sh)

find_program(HYPERBIOS_OBJCOPY NAMES objcopy REQUIRED)
find_program(HYPERBIOS_GRUB_MKRESCUE NAMES grub-mkrescue)

function(hyperbios_add_kernel name)
  cmake_parse_arguments(K "ISO" "OUTPUT_DIRECTORY;LINKER_SCRIPT"
                        "SOURCES;BOOT_PROTOCOLS;INCLUDE_DIRECTORIES;COMPILE_OPTIONS;LINK_OPTIONS;LIBRARIES" ${ARGN})
  if(K_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "hyperbios_add_kernel(${name}): unknown arguments ${K_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT K_SOURCES)
    message(FATAL_ERROR "hyperbios_add_kernel(${name}): no SOURCES")
  endif()
  if(NOT K_LINKER_SCRIPT)
    set(K_LINKER_SCRIPT ${HYPERBIOS_GUEST_LINKER_SCRIPT})
  endif()
  get_filename_component(K_LINKER_SCRIPT ${K_LINKER_SCRIPT} ABSOLUTE)
  if(NOT K_OUTPUT_DIRECTORY)
    set(K_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  if(NOT K_BOOT_PROTOCOLS)
    set(K_BOOT_PROTOCOLS MULTIBOOT PVH)
  endif()
  set(definitions "")
  foreach(protocol ${K_BOOT_PROTOCOLS})
    if(NOT protocol MATCHES "^(MULTIBOOT|PVH)$")
      message(FATAL_ERROR "hyperbios_add_kernel(${name}): unknown boot protocol ${protocol}; "
                          "BOOT_PROTOCOLS takes MULTIBOOT and PVH")
    endif()
  endforeach()
  if(NOT "MULTIBOOT" IN_LIST K_BOOT_PROTOCOLS)
    list(APPEND definitions -DHYPERBIOS_BOOT_NO_MULTIBOOT)
  endif()
  if(NOT "PVH" IN_LIST K_BOOT_PROTOCOLS)
    list(APPEND definitions -DHYPERBIOS_BOOT_NO_PVH)
  endif()
  if(K_ISO AND NOT "MULTIBOOT" IN_LIST K_BOOT_PROTOCOLS)
    message(FATAL_ERROR "hyperbios_add_kernel(${name}): ISO needs the MULTIBOOT protocol (GRUB's multiboot command)")
  endif()
  set(includes -I${HYPERBIOS_GUEST_INCLUDE_DIR})
  foreach(dir ${K_INCLUDE_DIRECTORIES})
    get_filename_component(dir ${dir} ABSOLUTE)
    list(APPEND includes -I${dir})
  endforeach()

  set(object_dir ${CMAKE_CURRENT_BINARY_DIR}/${name}.kernel)
  file(MAKE_DIRECTORY ${object_dir})
  set(objects "")
  set(has_cxx FALSE)
  set(index 0)
  foreach(source ${K_SOURCES})
    get_filename_component(path ${source} ABSOLUTE)
    get_filename_component(file_name ${source} NAME)
    if(path MATCHES "\\.c$")
      if(NOT CMAKE_C_COMPILER)
        message(FATAL_ERROR "hyperbios_add_kernel(${name}): ${file_name} is C, but the project has not enabled C "
                            "(project(... LANGUAGES C ...))")
      endif()
      set(compiler ${CMAKE_C_COMPILER})
      set(language_options ${HYPERBIOS_GUEST_C_OPTIONS})
    else()
      if(NOT CMAKE_CXX_COMPILER)
        message(FATAL_ERROR "hyperbios_add_kernel(${name}): ${file_name} is C++, but the project has not enabled CXX "
                            "(project(... LANGUAGES CXX ...))")
      endif()
      set(compiler ${CMAKE_CXX_COMPILER})
      set(language_options ${HYPERBIOS_GUEST_CXX_OPTIONS})
      set(has_cxx TRUE)
    endif()
    # The index keeps two sources of the same name in different folders apart.
    set(object ${object_dir}/${index}-${file_name}.o)
    math(EXPR index "${index} + 1")
    add_custom_command(OUTPUT ${object}
      COMMAND ${compiler} ${HYPERBIOS_GUEST_COMMON_OPTIONS} ${language_options} ${HYPERBIOS_GUEST_WARNING_OPTIONS}
              -O2 -g ${definitions} ${includes} ${K_COMPILE_OPTIONS} -MD -MF ${object}.d -c ${path} -o ${object}
      DEPENDS ${path}
      DEPFILE ${object}.d
      COMMENT "Compiling ${file_name} for kernel ${name}"
      VERBATIM COMMAND_EXPAND_LISTS)
    list(APPEND objects ${object})
  endforeach()

  # A kernel of C sources only gets the boot stub from the boot library.
  set(libraries ${K_LIBRARIES})
  if(NOT has_cxx)
    if(NOT HYPERBIOS_BOOT_LIBRARY)
      message(FATAL_ERROR "hyperbios_add_kernel(${name}): a kernel of C sources needs the boot library "
                          "(HYPERBIOS_BOOT_LIBRARY), which this HyperBIOS does not provide")
    endif()
    # Nothing in the kernel's own files refers to the stub: take it for its entry.
    list(APPEND libraries -Wl,--undefined=hyperbios_boot_entry32 ${HYPERBIOS_BOOT_LIBRARY})
    set(linker ${CMAKE_C_COMPILER})
  else()
    set(linker ${CMAKE_CXX_COMPILER})
  endif()
  set(elf64 ${K_OUTPUT_DIRECTORY}/${name}.elf64)
  set(elf32 ${K_OUTPUT_DIRECTORY}/${name}.elf)
  add_custom_command(OUTPUT ${elf64} ${elf32}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${K_OUTPUT_DIRECTORY}
    COMMAND ${linker} ${HYPERBIOS_GUEST_LINK_OPTIONS} -Wl,-T,${K_LINKER_SCRIPT} ${K_LINK_OPTIONS} ${objects}
            ${libraries} -o ${elf64}
    COMMAND ${HYPERBIOS_OBJCOPY} -O elf32-i386 ${elf64} ${elf32}
    DEPENDS ${objects} ${K_LINKER_SCRIPT} $<$<NOT:$<BOOL:${has_cxx}>>:${HYPERBIOS_BOOT_LIBRARY}> ${K_LIBRARIES}
    COMMENT "Linking kernel ${name} (${name}.elf64, and ${name}.elf for Multiboot and PVH loaders)"
    VERBATIM COMMAND_EXPAND_LISTS)
  # The GRUB image is built by the kernel's own target: with the Makefile
  # generators a custom command's output that a second target depends on gets
  # its rule run by both, at the same time (seen as a half-written .elf64).
  set(iso "")
  if(K_ISO)
    if(NOT HYPERBIOS_GRUB_MKRESCUE)
      message(FATAL_ERROR "grub-mkrescue not found: it builds the Bochs image of ${name}. "
                          "Install grub-pc-bin, xorriso and mtools (scripts/install-deps in HyperBIOS's source).")
    endif()
    set(iso_root ${CMAKE_CURRENT_BINARY_DIR}/${name}-iso)
    set(iso ${K_OUTPUT_DIRECTORY}/${name}.iso)
    file(WRITE ${iso_root}/boot/grub/grub.cfg
         "set timeout=0\nmenuentry ${name} {\n  multiboot /boot/kernel.elf\n  boot\n}\n")
    add_custom_command(OUTPUT ${iso}
      COMMAND ${CMAKE_COMMAND} -E copy ${elf32} ${iso_root}/boot/kernel.elf
      COMMAND sh ${HYPERBIOS_GRUB_ISO_SCRIPT} ${HYPERBIOS_GRUB_MKRESCUE} ${iso} ${iso_root}
      DEPENDS ${elf32}
      COMMENT "GRUB rescue image ${name}.iso")
  endif()
  add_custom_target(${name} ALL DEPENDS ${elf64} ${elf32} ${iso})
  if(HYPERBIOS_BOOT_LIBRARY_TARGET AND NOT has_cxx)
    add_dependencies(${name} ${HYPERBIOS_BOOT_LIBRARY_TARGET})  # built in this tree
  endif()
  if(K_ISO)
    add_custom_target(${name}-iso)  # the name other targets depend on for the .iso
    add_dependencies(${name}-iso ${name})
  endif()
endfunction()
