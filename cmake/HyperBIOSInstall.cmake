# What `cmake --install` puts where (GNU layout under the prefix), and the
# package files a kernel built outside this tree uses:
#   include/hyperbios/...              the guest library and its linker scripts
#   bin/hbvm                           the reference host
#   bin/hyperbios-conform              the conformance driver, on the suite below
#   share/hyperbios/conformance/       the conformance suite: driver, images, spec
#   share/doc/hyperbios/spec/          the specification (Markdown)
#   lib/cmake/hyperbios/               find_package(hyperbios): hyperbios_add_kernel()
#   lib/pkgconfig/hyperbios.pc         pkg-config: include path, kernel flags, linker script
# (lib is the multiarch lib/<triplet> under /usr on Debian.)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(HYPERBIOS_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/hyperbios)
set(HYPERBIOS_INSTALL_SUITEDIR ${CMAKE_INSTALL_DATADIR}/hyperbios/conformance)

# The guest library: headers and linker scripts, without its own tests.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/hyperbios DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        PATTERN tests EXCLUDE PATTERN tools EXCLUDE PATTERN README.md EXCLUDE)
install(FILES ${PROJECT_SOURCE_DIR}/include/hyperbios/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}
        RENAME guest-library.md)

install(TARGETS hbvm RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

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
install(FILES ${HYPERBIOS_BUNDLE_VERSION_FILE} DESTINATION ${HYPERBIOS_INSTALL_SUITEDIR} RENAME VERSION)
file(RELATIVE_PATH conform_from_bin ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}
     ${CMAKE_INSTALL_PREFIX}/${HYPERBIOS_INSTALL_SUITEDIR}/conformance/hyperbios-conform)
configure_file(${CMAKE_CURRENT_LIST_DIR}/hyperbios-conform.in ${PROJECT_BINARY_DIR}/install/hyperbios-conform @ONLY)
install(PROGRAMS ${PROJECT_BINARY_DIR}/install/hyperbios-conform DESTINATION ${CMAKE_INSTALL_BINDIR})

# The specification, to read.
install(FILES ${spec_pages} DESTINATION ${CMAKE_INSTALL_DOCDIR}/spec)
install(FILES ${spec_service_pages} DESTINATION ${CMAKE_INSTALL_DOCDIR}/spec/services)

# find_package(hyperbios 0.N): the package's version is the spec's, and a request
# is met by the same major version with at least the minor asked (spec 1.4).
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/hyperbiosConfig.cmake.in
  ${PROJECT_BINARY_DIR}/install/hyperbiosConfig.cmake
  INSTALL_DESTINATION ${HYPERBIOS_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR HYPERBIOS_INSTALL_SUITEDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/install/hyperbiosConfigVersion.cmake
  VERSION ${HYPERBIOS_SPEC_VERSION} COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/install/hyperbiosConfig.cmake ${PROJECT_BINARY_DIR}/install/hyperbiosConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/HyperBIOSGuest.cmake ${CMAKE_CURRENT_LIST_DIR}/make-grub-iso.sh
        DESTINATION ${HYPERBIOS_INSTALL_CMAKEDIR})

# pkg-config, with the flags of HyperBIOSGuest.cmake's lists.
string(JOIN " " HYPERBIOS_PC_COMMON ${HYPERBIOS_GUEST_COMMON_OPTIONS})
string(JOIN " " HYPERBIOS_PC_CXX ${HYPERBIOS_GUEST_CXX_OPTIONS})
string(JOIN " " HYPERBIOS_PC_C ${HYPERBIOS_GUEST_C_OPTIONS})
string(JOIN " " HYPERBIOS_PC_LINK ${HYPERBIOS_GUEST_LINK_OPTIONS})
file(RELATIVE_PATH HYPERBIOS_PC_PREFIX_FROM_PCDIR ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig
     ${CMAKE_INSTALL_PREFIX})
configure_file(${CMAKE_CURRENT_LIST_DIR}/hyperbios.pc.in ${PROJECT_BINARY_DIR}/install/hyperbios.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/install/hyperbios.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
