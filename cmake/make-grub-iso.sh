#!/bin/sh
# make-grub-iso.sh GRUB_MKRESCUE ISO ROOT: builds a GRUB rescue ISO, quietly unless it fails.
set -u
log="$2.log"
if ! "$1" -o "$2" "$3" >"$log" 2>&1; then
    cat "$log" >&2
    echo "make-grub-iso.sh: grub-mkrescue failed (it needs grub-pc-bin, xorriso and mtools)" >&2
    exit 1
fi
