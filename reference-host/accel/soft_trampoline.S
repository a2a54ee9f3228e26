/* Boot trampoline of the software accelerator, copied into guest RAM by the host.
 *
 * Unicorn opened in 64-bit mode starts in long mode, and EFER.LME writes are
 * dropped in its 32-bit mode, so a Multiboot entry (32-bit protected mode, paging
 * off) is reached from 64-bit code: enable paging over a tiny identity map so that
 * the CPU is in a consistent long mode, drop to a 32-bit compatibility-mode code
 * segment, turn paging off (which leaves long mode), clear EFER.LME and CR4.PAE,
 * load flat segments and jump to the kernel.
 *
 * In:  RDI = kernel entry, RSI = Multiboot information, RDX = identity-map PML4,
 *      RCX = the entry GDT, R8 = the entry IDT, R9 = the entry ESP (boot_layout,
 *      written by the host), RSP = a scratch stack.
 * Out: the Multiboot machine state, the same as KVM's (the entry_probe test guest
 *      compares them): EAX = 0x2BADB002, EBX = information, ESP = the entry stack,
 *      every other general register 0, EFLAGS = 0x2, GDTR and IDTR the entry ones.
 * Position-independent: the host may place it anywhere below 4 GiB. The entry
 * address is written into the final far jump, so that no register holds it. */
    .section .rodata.hbvm_soft_trampoline, "a"
    .global hbvm_soft_trampoline_start
    .global hbvm_soft_trampoline_end
    .code64
hbvm_soft_trampoline_start:
    mov %rcx, gdt_pointer + 2(%rip)
    lgdt gdt_pointer(%rip)
    mov %edi, entry_target(%rip)    /* the far jump at the end goes there */
    mov %r8, idt_pointer + 2(%rip)
    lidt idt_pointer(%rip)
    mov %r9d, entry_esp(%rip)
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
    pushl $0x2                      /* EFLAGS: only the reserved bit 1 */
    popfl
    mov %esi, %ebx                  /* MOV leaves the flags alone, XOR would not */
    mov $0x2BADB002, %eax
    mov $0, %ecx
    mov $0, %edx
    mov $0, %esi
    mov $0, %edi
    mov $0, %ebp
    .byte 0xBC                      /* mov $entry_esp, %esp */
entry_esp:
    .long 0
    .byte 0xEA                      /* ljmp $0x08, $entry_target */
entry_target:
    .long 0
    .word 0x08

    .balign 8
gdt_pointer:
    .word 3 * 8 - 1                 /* the entry GDT's three descriptors */
    .quad 0
idt_pointer:
    .word 32 * 8 - 1                /* the entry IDT's 32 gates */
    .quad 0
hbvm_soft_trampoline_end:
    .section .note.GNU-stack, "", @progbits
