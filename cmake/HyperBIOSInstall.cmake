# What `cmake --install` puts where (GNU layout under the prefix), and the
# package files a kernel built outside this tree uses:
#   include/hyperbios/...              the guest library and its linker scripts
#   bin/hbvm                           the reference host
#   bin/hyperbios-conform              the conformance driver, on the suite below
#   lib/hyperbios/conformance/         the conformance suite: driver, images, spec
#   share/doc/hyperbios/spec/          the specification (Markdown, and as one HTML file)
#   lib/cmake/hyperbios/               find_package(hyperbios): hyperbios_add_kernel()
#   lib/pkgconfig/hyperbios.pc         pkg-config: include path, kernel flags, linker script
# (lib is the multiarch lib/<triplet> under /usr on Debian.)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(HYPERBIOS_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/hyperbios)
# The suite holds x86-64 kernels (the images): architecture-dependent files,
# which belong under lib, not share.
set(HYPERBIOS_INSTALL_SUITEDIR ${CMAKE_INSTALL_LIBDIR}/hyperbios/conformance)

# The guest library: headers and linker scripts, without its own tests.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/hyperbios DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        PATTERN tests EXCLUDE PATTERN tools EXCLUDE PATTERN README.md EXCLUDE)
install(FILES ${PROJECT_SOURCE_DIR}/include/hyperbios/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}
        RENAME guest-library.md)

install(TARGETS hbvm hbvm-ctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS hyperbios_boot ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})  # the boot stub for C kernels
install(TARGETS hyperbios_net ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})   # the guest network stack

# The conformance suite, laid out as the conformance bundle is (conformance/
# CMakeLists.txt), so that the driver finds its images and spec beside it.
install(PROGRAMS ${PROJECT_SOURCE_DIR}/conformance/hyperbios-conform ${PROJECT_SOURCE_DIR}/conformance/mutation-test
        DESTINATION ${HYPERBIOS_INSTALL_SUITEDIR}/conformance)
install(FILES ${PROJECT_SOURCE_DIR}/conformance/conform.py ${PROJECT_SOURCE_DIR}/conformance/README.md
        DESTINATION ${HYPERBIOS_INSTALL_SUITEDIR}/conformance)
foreach(image ${HYPERBIOS_CONFORMANCE_IMAGES})
  # ELF32 and ELF64; the GRUB ISOs (75 MB) stay in the bundle's archive.
  install(FILES ${PROJECT_BINARY_DIR}/conformance/images/conformance-${image}.elf
                ${PROJECT_BINARY_DIR}/conformance/images/conformance-${image}.elf64
          DESTINATION ${HYPERBIOS_INSTALL_SUITEDIR}/conformance/images)
endforeach()
file(GLOB spec_pages CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/spec/*.md)
file(GLOB spec_service_pages CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/spec/services/*.md)
install(FILES ${spec_pages} DESTINATION ${HYPERBIOS_INSTALL_SUITEDIR}/spec)
install(FILES ${spec_service_pages} DESTINATION ${HYPERBIOS_INSTALL_SUITEDIR}/spec/services)
install(FILES ${PROJECT_SOURCE_DIR}/spec/tools/hyperbios_spec.py DESTINATION ${HYPERBIOS_INSTALL_SUITEDIR}/spec/tools)
# The built-in profiles, for the driver (--profile ps3) and for users to copy.
install(FILES ${HBVM_PROFILE_FILES} ${PROJECT_SOURCE_DIR}/reference-host/profiles/README.md
        DESTINATION ${HYPERBIOS_INSTALL_SUITEDIR}/profiles)
install(FILES ${HYPERBIOS_BUNDLE_VERSION_FILE} DESTINATION ${HYPERBIOS_INSTALL_SUITEDIR} RENAME VERSION)
file(RELATIVE_PATH conform_from_bin ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}
     ${CMAKE_INSTALL_PREFIX}/${HYPERBIOS_INSTALL_SUITEDIR}/conformance/hyperbios-conform)
configure_file(${CMAKE_CURRENT_LIST_DIR}/hyperbios-conform.in ${PROJECT_BINARY_DIR}/install/hyperbios-conform @ONLY)
install(PROGRAMS ${PROJECT_BINARY_DIR}/install/hyperbios-conform DESTINATION ${CMAKE_INSTALL_BINDIR})

# The specification, to read: the Markdown, and the single HTML file (spec-html).
install(FILES ${spec_pages} ${HYPERBIOS_SPEC_HTML} DESTINATION ${CMAKE_INSTALL_DOCDIR}/spec)
install(FILES ${spec_service_pages} DESTINATION ${CMAKE_INSTALL_DOCDIR}/spec/services)

# find_package(hyperbios 0.N): the package's version is the spec's, and a request
# is met by the same major version with at least the minor asked (spec 1.4).
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/hyperbiosConfig.cmake.in
  ${PROJECT_BINARY_DIR}/install/hyperbiosConfig.cmake
  INSTALL_DESTINATION ${HYPERBIOS_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR CMAKE_INSTALL_LIBDIR HYPERBIOS_INSTALL_SUITEDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/install/hyperbiosConfigVersion.cmake
  VERSION ${HYPERBIOS_SPEC_VERSION} COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/install/hyperbiosConfig.cmake ${PROJECT_BINARY_DIR}/install/hyperbiosConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/HyperBIOSGuest.cmake
        DESTINATION ${HYPERBIOS_INSTALL_CMAKEDIR})
install(PROGRAMS ${CMAKE_CURRENT_LIST_DIR}/make-grub-iso.sh DESTINATION ${HYPERBIOS_INSTALL_CMAKEDIR})

# pkg-config, with the flags of HyperBIOSGuest.cmake's lists.
string(JOIN " " HYPERBIOS_PC_COMMON ${HYPERBIOS_GUEST_COMMON_OPTIONS})
string(JOIN " " HYPERBIOS_PC_CXX ${HYPERBIOS_GUEST_CXX_OPTIONS})
string(JOIN " " HYPERBIOS_PC_C ${HYPERBIOS_GUEST_C_OPTIONS})
string(JOIN " " HYPERBIOS_PC_LINK ${HYPERBIOS_GUEST_LINK_OPTIONS})
file(RELATIVE_PATH HYPERBIOS_PC_PREFIX_FROM_PCDIR ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig
     ${CMAKE_INSTALL_PREFIX})
configure_file(${CMAKE_CURRENT_LIST_DIR}/hyperbios.pc.in ${PROJECT_BINARY_DIR}/install/hyperbios.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/install/hyperbios.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The Debian package (cpack -G DEB, or the `package` target): everything above
# under /usr, with the copyright and changelog files Debian's policy asks for.
configure_file(${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_BINARY_DIR}/install/copyright COPYONLY)
file(WRITE ${PROJECT_BINARY_DIR}/install/changelog
     "hyperbios (${PROJECT_VERSION}) unstable; urgency=low\n\n"
     "  * Built from the HyperBIOS source tree (spec ${HYPERBIOS_SPEC_VERSION}).\n\n"
     " -- HyperBIOS developers <hyperbios@users.noreply.github.com>  Mon, 30 Nov 2026 00:00:00 +0000\n")
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/install/changelog.gz
  COMMAND sh -c "gzip -9nc \"$1\" > \"$2\"" sh ${PROJECT_BINARY_DIR}/install/changelog
          ${PROJECT_BINARY_DIR}/install/changelog.gz
  DEPENDS ${PROJECT_BINARY_DIR}/install/changelog VERBATIM)
add_custom_target(debian-changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/install/changelog.gz)
install(FILES ${PROJECT_BINARY_DIR}/install/copyright ${PROJECT_BINARY_DIR}/install/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_CURRENT_LIST_DIR}/hyperbios.lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
        RENAME hyperbios)

# One package per component: the core (hyperbios), and each back-end module
# apart (hyperbios-module-sdl), so that the core pulls in no desktop library.
get_property(module_packages GLOBAL PROPERTY HYPERBIOS_MODULE_PACKAGES)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING IGNORE)
set(CPACK_COMPONENTS_ALL hyperbios)
set(CPACK_DEBIAN_HYPERBIOS_PACKAGE_NAME hyperbios)
foreach(name ${module_packages})
  string(TOUPPER module_${name} component)
  get_property(summary GLOBAL PROPERTY HYPERBIOS_MODULE_PACKAGE_SUMMARY_${name})
  list(APPEND CPACK_COMPONENTS_ALL module_${name})
  set(CPACK_DEBIAN_${component}_PACKAGE_NAME hyperbios-module-${name})
  set(CPACK_DEBIAN_${component}_PACKAGE_DEPENDS "hyperbios (= ${PROJECT_VERSION})")
  set(CPACK_DEBIAN_${component}_PACKAGE_RECOMMENDS "")
  set(CPACK_DEBIAN_${component}_PACKAGE_SUGGESTS "")
  set(CPACK_DEBIAN_${component}_DESCRIPTION "${summary}
The back-end module hbvm-${name}.so, which hbvm loads only when a device of
its is chosen; it must come from the same version as hbvm.")
  install(FILES ${PROJECT_BINARY_DIR}/install/copyright ${PROJECT_BINARY_DIR}/install/changelog.gz
          DESTINATION share/doc/hyperbios-module-${name} COMPONENT module_${name})
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hyperbios)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR HyperBIOS)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "hypervisor calls for experimental kernels: host, library, test suite")
# CPack puts the summary first and indents each line by one space itself.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "HyperBIOS gives an experimental operating-system kernel a console, clocks,
timers and interrupts, power control, disks, its memory map and random
numbers through a handful of hypervisor calls, without device drivers.
.
This package holds the reference host hbvm (KVM, or a software engine where
there is none), the header-only guest library with its boot stub and linker
script (CMake package and pkg-config file included), the conformance suite
with its driver hyperbios-conform, the specification and man pages.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "HyperBIOS developers <hyperbios@users.noreply.github.com>")
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "g++, binutils, cmake, pkg-config")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "qemu-system-x86, grub-pc-bin, xorriso, mtools")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_OUTPUT_FILE_PREFIX ${PROJECT_BINARY_DIR}/package)
include(CPack)
