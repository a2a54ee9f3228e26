#!/bin/sh
# check-wrappers-follow-table.sh CXX INCLUDE_DIR SOURCE_DIR
# A typed wrapper cannot disagree with the ABI table: each case of
# wrapper_disagrees_with_table.cpp must fail to compile, the control must compile.
set -u
cxx=$1 include=$2 src=$3
flags="-std=c++20 -ffreestanding -fno-exceptions -fno-rtti -fsyntax-only -I$include"
failures=0
if ! "$cxx" $flags -DWRAPPER_CASE=0 "$src/wrapper_disagrees_with_table.cpp"; then
    echo "FAIL: the control case (the table's own types) does not compile"
    exit 1
fi
for case in 1 2 3 4 5; do
    if out=$("$cxx" $flags -DWRAPPER_CASE=$case "$src/wrapper_disagrees_with_table.cpp" 2>&1); then
        echo "FAIL: case $case compiled, though its wrapper disagrees with the ABI table"
        failures=$((failures + 1))
    else
        echo "PASS: case $case refused: $(echo "$out" | grep -m1 -E 'error' | sed 's/^.*error: //')"
    fi
done
exit $failures
