/* Boot trampoline of the software accelerator, copied into guest RAM by the host.
 *
 * Unicorn opened in 64-bit mode starts in long mode, and EFER.LME writes are
 * dropped in its 32-bit mode, so a Multiboot entry (32-bit protected mode, paging
 * off) is reached from 64-bit code: enable paging over a tiny identity map so that
 * the CPU is in a consistent long mode, drop to a 32-bit compatibility-mode code
 * segment, turn paging off (which leaves long mode), clear EFER.LME and CR4.PAE,
 * load flat segments and jump to the kernel.
 *
 * In:  RDI = kernel entry, RSI = Multiboot information, RDX = identity-map PML4.
 * Out: the Multiboot machine state, EAX = 0x2BADB002, EBX = information.
 * Position-independent: the host may place it anywhere below 4 GiB. */
    .section .rodata.hbvm_soft_trampoline, "a"
    .global hbvm_soft_trampoline_start
    .global hbvm_soft_trampoline_end
    .code64
hbvm_soft_trampoline_start:
    lea gdt(%rip), %rax
    mov %rax, gdt_pointer + 2(%rip)
    lgdt gdt_pointer(%rip)
    mov %rdx, %cr3
    mov %cr4, %rax
    or $0x20, %rax                  /* PAE */
    mov %rax, %cr4
    mov %cr0, %rax
    bts $31, %rax                   /* PG */
    mov %rax, %cr0
    lea compat(%rip), %rax
    pushq $0x08
    push %rax
    lretq

    .code32
compat:
    mov %cr0, %eax
    btr $31, %eax                   /* paging off: leaves long mode */
    mov %eax, %cr0
    mov $0xC0000080, %ecx
    rdmsr
    btr $8, %eax                    /* EFER.LME */
    wrmsr
    mov %cr4, %eax
    btr $5, %eax                    /* PAE */
    mov %eax, %cr4
    xor %eax, %eax
    mov %eax, %cr3
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    mov %ax, %ss
    mov %esi, %ebx
    mov $0x2BADB002, %eax
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %ebp, %ebp
    xor %esp, %esp
    jmp *%edi

    .balign 8
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF        /* 0x08: 32-bit code, base 0, limit 4 GiB */
    .quad 0x00CF92000000FFFF        /* 0x10: data, base 0, limit 4 GiB */
gdt_end:
gdt_pointer:
    .word gdt_end - gdt - 1
    .quad 0
hbvm_soft_trampoline_end:
    .section .note.GNU-stack, "", @progbits
