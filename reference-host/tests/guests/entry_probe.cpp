// The machine state at the Multiboot entry, before any guest code changes it:
// general registers, EFLAGS, CR0/CR3/CR4, EFER, segment selectors, GDTR and
// IDTR. Printed on the debug console as "ENTRY name value" lines, for a test to
// compare the two engines; the run ends through the QEMU-style exit port (0x21,
// status 0x43). Pure 32-bit code with its own Multiboot header: the library's
// boot stub would change the state it is meant to show.
#include <stdint.h>

asm(R"(
    .pushsection .multiboot, "a"
    .balign 4
entry_probe_header:
    .long 0x1BADB002
    .long 0x00010003
    .long -(0x1BADB002 + 0x00010003)
    .long entry_probe_header
    .long __hyperbios_load_start
    .long __hyperbios_load_end
    .long __hyperbios_bss_end
    .long entry_probe_entry32
    .popsection

    .pushsection .bss.entry_probe, "aw", @nobits
    .balign 16
entry_probe_saved: .skip 128
entry_probe_gdtr: .skip 8
entry_probe_idtr: .skip 8
entry_probe_stack: .skip 64
entry_probe_stack_top:
    .popsection

    .pushsection .rodata.entry_probe, "a"
entry_probe_names:
    .asciz "eax"
    .asciz "ebx"
    .asciz "ecx"
    .asciz "edx"
    .asciz "esi"
    .asciz "edi"
    .asciz "ebp"
    .asciz "esp"
    .asciz "eflags"
    .asciz "cr0"
    .asciz "cr3"
    .asciz "cr4"
    .asciz "efer"
    .asciz "cs"
    .asciz "ds"
    .asciz "es"
    .asciz "fs"
    .asciz "gs"
    .asciz "ss"
    .asciz "gdtr.limit"
    .asciz "gdtr.base"
    .asciz "idtr.limit"
    .asciz "idtr.base"
    .byte 0
entry_probe_prefix: .asciz "ENTRY "
    .popsection

    .pushsection .text.entry_probe, "ax"
    .code32
    .global entry_probe_entry32
entry_probe_entry32:
    mov %eax, entry_probe_saved + 0
    mov %ebx, entry_probe_saved + 4
    mov %ecx, entry_probe_saved + 8
    mov %edx, entry_probe_saved + 12
    mov %esi, entry_probe_saved + 16
    mov %edi, entry_probe_saved + 20
    mov %ebp, entry_probe_saved + 24
    mov %esp, entry_probe_saved + 28
    mov $entry_probe_stack_top, %esp    # Multiboot leaves ESP undefined: PUSHF needs a stack
    pushf
    pop %eax
    mov %eax, entry_probe_saved + 32
    mov %cr0, %eax
    mov %eax, entry_probe_saved + 36
    mov %cr3, %eax
    mov %eax, entry_probe_saved + 40
    mov %cr4, %eax
    mov %eax, entry_probe_saved + 44
    mov $0xC0000080, %ecx
    rdmsr
    mov %eax, entry_probe_saved + 48
    xor %eax, %eax
    mov %cs, %ax
    mov %eax, entry_probe_saved + 52
    mov %ds, %ax
    mov %eax, entry_probe_saved + 56
    mov %es, %ax
    mov %eax, entry_probe_saved + 60
    mov %fs, %ax
    mov %eax, entry_probe_saved + 64
    mov %gs, %ax
    mov %eax, entry_probe_saved + 68
    mov %ss, %ax
    mov %eax, entry_probe_saved + 72
    sgdt entry_probe_gdtr
    sidt entry_probe_idtr
    movzwl entry_probe_gdtr, %eax
    mov %eax, entry_probe_saved + 76
    mov entry_probe_gdtr + 2, %eax
    mov %eax, entry_probe_saved + 80
    movzwl entry_probe_idtr, %eax
    mov %eax, entry_probe_saved + 84
    mov entry_probe_idtr + 2, %eax
    mov %eax, entry_probe_saved + 88

    # For each name: "ENTRY name 0x%08x\n" on port 0xE9.
    mov $entry_probe_names, %esi
    mov $entry_probe_saved, %edi
    mov $0xE9, %dx
1:  cmpb $0, (%esi)
    je 9f
    mov $entry_probe_prefix, %ebx
2:  movb (%ebx), %al
    test %al, %al
    jz 3f
    outb %al, %dx
    inc %ebx
    jmp 2b
3:  lodsb
    test %al, %al
    jz 4f
    outb %al, %dx
    jmp 3b
4:  movb $' ', %al
    outb %al, %dx
    movb $'0', %al
    outb %al, %dx
    movb $'x', %al
    outb %al, %dx
    mov (%edi), %ebx
    mov $8, %ecx
5:  rol $4, %ebx
    mov %ebx, %eax
    and $0xF, %eax
    cmp $10, %eax
    jb 6f
    add $('a' - 10 - '0'), %eax
6:  add $'0', %eax
    outb %al, %dx
    dec %ecx
    jnz 5b
    movb $'\n', %al
    outb %al, %dx
    add $4, %edi
    jmp 1b
9:  mov $0xF4, %dx
    mov $0x21, %eax
    outl %eax, %dx
    cli
    hlt
    .code64
    .popsection
)");
