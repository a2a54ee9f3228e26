#!/bin/sh
# check-c-header.sh GENERATOR INCLUDE_DIR WORK_DIR COMPILER c|c++
# <hyperbios/hyperbios.h> from C and C++: a file that calls every function of the
# header (written by the generator, so a call added to the ABI table is in it)
# compiles freestanding with -Wall -Wextra -Wpedantic -Werror under -std=c99 and
# -std=c11 (C), or -std=c++20 (C++), and nm -u finds no undefined symbol in the
# object; in C++ also next to <hyperbios/hyperbios.hpp> in one file. The boot
# library's <hyperbios/boot/hyperbios_boot.h> compiles with the same flags. Then, as
# an ordinary program on this machine, where no HyperBIOS host answers CPUID,
# every call returns NOT_SUPPORTED without touching a port (an OUT in user mode
# would kill the program). WORK_DIR is the compiler's own: ctest -j runs these
# tests at once.
set -eu
generator=$1 include=$2 work=$3 compiler=$4 lang=$5
name=$(basename "$compiler")
mkdir -p "$work"
"$generator" --every-call "$work/every_call.c"
flags="-ffreestanding -fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only -fno-stack-protector -O2 -I$include"
warnings="-Wall -Wextra -Wpedantic -Werror"
if [ "$lang" = c ]; then
    standards="c99 c11"
    language="-x c"
else
    standards="c++20"
    language="-x c++ -fno-exceptions -fno-rtti"
fi
for std in $standards; do
    obj="$work/every_call.$name.$std.o"
    "$compiler" $language -std=$std $flags $warnings -c "$work/every_call.c" -o "$obj"
    undefined=$(nm -u "$obj")
    if [ -n "$undefined" ]; then
        echo "FAIL: $name -std=$std: an object calling every function of hyperbios.h needs symbols:"
        echo "$undefined"
        exit 1
    fi
    # The header on its own, first in a file, with the strictest standard mode.
    printf '#include <hyperbios/hyperbios.h>\n' > "$work/alone.c"
    "$compiler" $language -std=$std $flags $warnings -c "$work/alone.c" -o "$work/alone.$name.$std.o"
    # The boot library's declarations (boot/hyperbios_boot.h), first in a file
    # and with hyperbios.h: the same flags, no clash of names.
    printf '#include <hyperbios/boot/hyperbios_boot.h>\n#include <hyperbios/hyperbios.h>\n' > "$work/boot.c"
    "$compiler" $language -std=$std $flags $warnings -c "$work/boot.c" -o "$work/boot.$name.$std.o"
    if [ "$lang" = c++ ]; then
        # Next to the C++ library in one translation unit: no clash of names.
        printf '#include <hyperbios/hyperbios.hpp>\n#include <hyperbios/hyperbios.h>\n' > "$work/both.cpp"
        printf 'int64_t both(); int64_t both() { return hb_console_write("a", 1).status + int64_t(hyperbios::console::write("b").code); }\n' >> "$work/both.cpp"
        "$compiler" $language -std=$std $flags $warnings -c "$work/both.cpp" -o "$work/both.$name.o"
    fi
    echo "PASS: $name -std=$std: hyperbios.h compiles freestanding; nm -u prints nothing"
done
cat > "$work/no_host_main.c" <<'EOC'
#include <hyperbios/hyperbios.h>
int64_t hb_test_every_call(void);
int main(void)
{
    /* Each call answers NOT_SUPPORTED (-2) without a host. */
    return !(hb_test_every_call() == (int64_t)HB_STATUS_NOT_SUPPORTED * HB_TEST_CALL_COUNT && !hb_present());
}
EOC
count=$(grep -c '^    sum += hb_' "$work/every_call.c")
"$compiler" $language -std=$std -O2 -I"$include" -DHB_TEST_CALL_COUNT=$count "$work/no_host_main.c" \
    "$work/every_call.c" -o "$work/no_host.$name"
if ! "$work/no_host.$name"; then
    echo "FAIL: $name: without a HyperBIOS host, not every call returned NOT_SUPPORTED"
    exit 1
fi
echo "PASS: $name: without a host all $count calls return NOT_SUPPORTED and touch no port"
