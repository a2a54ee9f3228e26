#!/bin/sh
# check-tls-link-rules.sh CXX CC INCLUDE_DIR SOURCE_DIR WORK_DIR BOOT_LIBRARY
# The boot stub's rule for thread-local storage, at link time: a linker script
# defines all four __hyperbios_tls_* symbols (boot/multiboot.ld does), or the
# kernel opts out -- HYPERBIOS_BOOT_NO_TLS before <hyperbios/boot/multiboot.hpp>,
# or, for a kernel on the prebuilt libhyperbios-boot.a, __hyperbios_tls_tcb = 0
# in its script with the other three defined too. A script that defines some
# but not all must fail the link and name what is missing, and so must one that
# defines none when the kernel did not opt out: a silent TLS block of size 0 is
# what this rules out. Each script is tests/foreign.ld with lines added.
set -eu
cxx=$1 cc=$2 include=$3 src=$4 work=$5 bootlib=$6
mkdir -p "$work"
common="-ffreestanding -nostdlib -mno-red-zone -mgeneral-regs-only -fno-pic -fno-pie -fno-stack-protector
        -fno-asynchronous-unwind-tables -fno-builtin -O2 -g0 -I$include"
cxxflags="-std=c++20 -fno-exceptions -fno-rtti -fno-threadsafe-statics"
link="-static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=0x1000 -Wl,--no-warn-rwx-segments"
failures=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }

printf '#include <hyperbios/boot/multiboot.hpp>\nextern "C" void kernel_main(uint32_t, uint32_t) {}\n' > "$work/kernel.cpp"
printf '#include <stdint.h>\nvoid kernel_main(uint32_t magic, uint32_t info);\nvoid kernel_main(uint32_t magic, uint32_t info) { (void)magic; (void)info; }\n' > "$work/kernel.c"
"$cxx" $common $cxxflags -c "$work/kernel.cpp" -o "$work/with_tls.o"
"$cxx" $common $cxxflags -DHYPERBIOS_BOOT_NO_TLS -c "$work/kernel.cpp" -o "$work/no_tls.o"
"$cc" $common -std=c11 -c "$work/kernel.c" -o "$work/c_kernel.o"

script() {  # script NAME LINES: foreign.ld and LINES
    { cat "$src/foreign.ld"; printf '%s\n' "$2"; } > "$work/$1.ld"
}
script none ""
script partial "__hyperbios_tls_tcb = __bss_end; __hyperbios_tls_start = 0x100000;"
script all "__hyperbios_tls_tcb = 0x200000; __hyperbios_tls_start = 0x100000; __hyperbios_tls_image_size = 0; __hyperbios_tls_block_size = 0;"
script zero "__hyperbios_tls_tcb = 0; __hyperbios_tls_start = 0; __hyperbios_tls_image_size = 0; __hyperbios_tls_block_size = 0;"

# expect_link NAME LINKER OBJECTS SCRIPT [MISSING...]: links when no MISSING
# symbol is named, fails naming each of them otherwise.
expect_link() {
    name=$1 linker=$2 objects=$3 ld=$4
    shift 4
    if $linker $link -Wl,-T,"$work/$ld.ld" $objects -o "$work/$name.elf" 2> "$work/$name.log"; then
        if [ $# -eq 0 ]; then
            pass "$name: links"
        else
            fail "$name: linked, though the script does not define $*"
        fi
        return
    fi
    if [ $# -eq 0 ]; then
        fail "$name: does not link:"
        cat "$work/$name.log"
        return
    fi
    for missing in "$@"; do
        if grep -q "undefined reference to \`$missing'" "$work/$name.log"; then
            pass "$name: the link fails naming $missing"
        else
            fail "$name: the link failed without naming $missing:"
            cat "$work/$name.log"
        fi
    done
}

c_link="$cc -nostdlib -Wl,--undefined=hyperbios_boot_entry32"
expect_link partial-script "$cxx -nostdlib" "$work/with_tls.o" partial \
    __hyperbios_tls_block_size __hyperbios_tls_image_size
expect_link no-tls-symbols-no-opt-out "$cxx -nostdlib" "$work/with_tls.o" none \
    __hyperbios_tls_tcb __hyperbios_tls_block_size __hyperbios_tls_start __hyperbios_tls_image_size
expect_link all-symbols "$cxx -nostdlib" "$work/with_tls.o" all
expect_link opt-out-HYPERBIOS_BOOT_NO_TLS "$cxx -nostdlib" "$work/no_tls.o" none
expect_link opt-out-with-partial-script "$cxx -nostdlib" "$work/no_tls.o" partial
expect_link c-boot-library-partial-script "$c_link" "$work/c_kernel.o $bootlib" partial \
    __hyperbios_tls_block_size __hyperbios_tls_image_size
expect_link c-boot-library-no-tls-symbols "$c_link" "$work/c_kernel.o $bootlib" none __hyperbios_tls_tcb
expect_link c-boot-library-opt-out-tcb-0 "$c_link" "$work/c_kernel.o $bootlib" zero

if [ "$failures" -ne 0 ]; then
    echo "FAIL: $failures of the TLS link rules do not hold"
    exit 1
fi
echo "PASS: every TLS link rule holds"
