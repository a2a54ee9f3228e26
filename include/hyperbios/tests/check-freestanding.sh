#!/bin/sh
# check-freestanding.sh CXX INCLUDE_DIR SOURCE_DIR WORK_DIR
# Compiles the guest library freestanding with CXX, then checks with nm -u that
# neither the object nor a linked kernel needs any symbol from a runtime library.
set -eu
cxx=$1 include=$2 src=$3 work=$4
mkdir -p "$work"
flags="-std=c++20 -ffreestanding -fno-exceptions -fno-rtti -nostdlib -mno-red-zone -mgeneral-regs-only
       -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables -fno-threadsafe-statics
       -O2 -I$include"
warnings="-Wall -Wextra -Wpedantic -Werror"
name=$(basename "$cxx")
"$cxx" $flags $warnings -c "$src/uses_every_call.cpp" -o "$work/uses_every_call.$name.o"
"$cxx" $flags $warnings -Wformat=2 -c "$src/uses_kernel_helpers.cpp" -o "$work/uses_kernel_helpers.$name.o"
"$cxx" $flags $warnings -c "$src/minimal_kernel.cpp" -o "$work/minimal_kernel.$name.o"
undefined="$(nm -u "$work/uses_every_call.$name.o")$(nm -u "$work/uses_kernel_helpers.$name.o")"
if [ -n "$undefined" ]; then
    echo "FAIL: $name: the guest library needs symbols it does not define:"
    echo "$undefined"
    exit 1
fi
# Link as the build links kernels, with the boot stub and its linker script.
"$cxx" $flags -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=0x1000 -Wl,--no-warn-rwx-segments \
    -Wl,-T,"$include/hyperbios/boot/multiboot.ld" \
    "$work/minimal_kernel.$name.o" "$work/uses_every_call.$name.o" "$work/uses_kernel_helpers.$name.o" -o "$work/minimal_kernel.$name.elf"
undefined=$(nm -u "$work/minimal_kernel.$name.elf")
if [ -n "$undefined" ]; then
    echo "FAIL: $name: the linked kernel has undefined symbols:"
    echo "$undefined"
    exit 1
fi
echo "PASS: $name compiles the guest library freestanding; nm -u prints nothing for the object and the kernel"
