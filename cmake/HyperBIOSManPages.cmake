# Man pages: hbvm(1), hbvm-ctl(1), hyperbios-conform(1) and hyperbios(7), generated into
# build/man/ and installed into ${CMAKE_INSTALL_MANDIR}/man1 and man7.
#
# Each page has one source: hbvm(1) is "hbvm --help" and "hbvm --list-faults"
# (reference-host/cli/main.cpp) plus spec/man/hbvm.1.h2m for the sections --help
# does not have; hyperbios-conform(1) is the driver's argparse help plus
# spec/man/hyperbios-conform.1.h2m; hyperbios(7) is build/abi.json (from
# include/hyperbios/abi.hpp) plus the prose of spec/man/hyperbios.7.in.
# docs.man-pages renders each page and checks that none has lost an option,
# a fault or a function.
include(GNUInstallDirs)

# Off by default in a sanitizer build (build-sanitize in CI): it tests the host,
# installs nothing, and would run an ASan hbvm at build time.
if(HYPERBIOS_SANITIZE)
  set(_hb_man_default OFF)
else()
  set(_hb_man_default ON)
endif()
option(HYPERBIOS_MAN_PAGES "Generate and install the man pages (runs hbvm --help at build time)" ${_hb_man_default})
if(NOT HYPERBIOS_MAN_PAGES)
  return()
endif()

set(HYPERBIOS_MAN_DIR ${PROJECT_BINARY_DIR}/man)
set(_hb_man_src ${PROJECT_SOURCE_DIR}/spec/man)
set(_hb_man_source "HyperBIOS ${PROJECT_VERSION}")
file(MAKE_DIRECTORY ${HYPERBIOS_MAN_DIR})

add_custom_command(OUTPUT ${HYPERBIOS_MAN_DIR}/hbvm.1
  COMMAND ${HYPERBIOS_PYTHON} ${_hb_man_src}/help2roff.py --section 1 --source ${_hb_man_source}
          --manual "HyperBIOS Manual" --include ${_hb_man_src}/hbvm.1.h2m --list FAULTS=--list-faults
          --output ${HYPERBIOS_MAN_DIR}/hbvm.1 -- $<TARGET_FILE:hbvm>
  DEPENDS hbvm ${_hb_man_src}/help2roff.py ${_hb_man_src}/hbvm.1.h2m
  COMMENT "Generating man/hbvm.1 from hbvm --help"
  VERBATIM)

add_custom_command(OUTPUT ${HYPERBIOS_MAN_DIR}/hbvm-ctl.1
  COMMAND ${HYPERBIOS_PYTHON} ${_hb_man_src}/help2roff.py --section 1 --source ${_hb_man_source}
          --manual "HyperBIOS Manual" --include ${_hb_man_src}/hbvm-ctl.1.h2m
          --output ${HYPERBIOS_MAN_DIR}/hbvm-ctl.1 -- $<TARGET_FILE:hbvm-ctl>
  DEPENDS hbvm-ctl ${_hb_man_src}/help2roff.py ${_hb_man_src}/hbvm-ctl.1.h2m
  COMMENT "Generating man/hbvm-ctl.1 from hbvm-ctl --help"
  VERBATIM)

add_custom_command(OUTPUT ${HYPERBIOS_MAN_DIR}/hyperbios-conform.1
  COMMAND ${HYPERBIOS_PYTHON} ${_hb_man_src}/help2roff.py --section 1 --source ${_hb_man_source}
          --manual "HyperBIOS Manual" --include ${_hb_man_src}/hyperbios-conform.1.h2m
          --output ${HYPERBIOS_MAN_DIR}/hyperbios-conform.1
          -- ${HYPERBIOS_PYTHON} ${PROJECT_SOURCE_DIR}/conformance/hyperbios-conform
  DEPENDS ${_hb_man_src}/help2roff.py ${_hb_man_src}/hyperbios-conform.1.h2m
          ${PROJECT_SOURCE_DIR}/conformance/hyperbios-conform ${PROJECT_SOURCE_DIR}/conformance/conform.py
  COMMENT "Generating man/hyperbios-conform.1 from hyperbios-conform --help"
  VERBATIM)

add_custom_command(OUTPUT ${HYPERBIOS_MAN_DIR}/hyperbios.7
  COMMAND ${HYPERBIOS_PYTHON} ${_hb_man_src}/abi2roff.py --abi ${HYPERBIOS_ABI_JSON}
          --template ${_hb_man_src}/hyperbios.7.in --source ${_hb_man_source}
          --output ${HYPERBIOS_MAN_DIR}/hyperbios.7
  DEPENDS abi-json ${HYPERBIOS_ABI_JSON} ${_hb_man_src}/abi2roff.py ${_hb_man_src}/hyperbios.7.in
  COMMENT "Generating man/hyperbios.7 from abi.json"
  VERBATIM)

add_custom_target(man-pages ALL DEPENDS
  ${HYPERBIOS_MAN_DIR}/hbvm.1 ${HYPERBIOS_MAN_DIR}/hbvm-ctl.1 ${HYPERBIOS_MAN_DIR}/hyperbios-conform.1
  ${HYPERBIOS_MAN_DIR}/hyperbios.7)

# Installed compressed, as Debian's policy wants (man reads either).
foreach(page hbvm.1 hbvm-ctl.1 hyperbios-conform.1 hyperbios.7)
  add_custom_command(OUTPUT ${HYPERBIOS_MAN_DIR}/gz/${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${HYPERBIOS_MAN_DIR}/gz
    COMMAND sh -c "gzip -9nc \"$1\" > \"$2\"" sh ${HYPERBIOS_MAN_DIR}/${page} ${HYPERBIOS_MAN_DIR}/gz/${page}.gz
    DEPENDS ${HYPERBIOS_MAN_DIR}/${page}
    VERBATIM)
endforeach()
add_custom_target(man-pages-compressed ALL DEPENDS
  ${HYPERBIOS_MAN_DIR}/gz/hbvm.1.gz ${HYPERBIOS_MAN_DIR}/gz/hbvm-ctl.1.gz ${HYPERBIOS_MAN_DIR}/gz/hyperbios-conform.1.gz
  ${HYPERBIOS_MAN_DIR}/gz/hyperbios.7.gz)
install(FILES ${HYPERBIOS_MAN_DIR}/gz/hbvm.1.gz ${HYPERBIOS_MAN_DIR}/gz/hbvm-ctl.1.gz
  ${HYPERBIOS_MAN_DIR}/gz/hyperbios-conform.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${HYPERBIOS_MAN_DIR}/gz/hyperbios.7.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man7)

set(_hb_man_check ${HYPERBIOS_PYTHON} ${_hb_man_src}/check_man_pages.py)
set(_hb_man_args ${HYPERBIOS_MAN_DIR} $<TARGET_FILE:hbvm>
    ${PROJECT_SOURCE_DIR}/conformance/hyperbios-conform ${HYPERBIOS_ABI_JSON})
add_test(NAME docs.man-pages COMMAND ${_hb_man_check} ${_hb_man_args})
add_test(NAME docs.man-pages.check-detects-rot COMMAND ${_hb_man_check} --self-test ${_hb_man_args})
set_tests_properties(docs.man-pages docs.man-pages.check-detects-rot PROPERTIES LABELS docs)
