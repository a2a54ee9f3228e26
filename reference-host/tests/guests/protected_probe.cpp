// Exceptions in 32-bit protected mode, for both accelerators: first one raised
// before the kernel has an IDT of its own (the host's entry IDT reports it and
// ends the run: kernel argument "early"), then, by default, the kernel's own
// 32-bit IDT handling #UD and #DE, with the frame the CPU pushes (EIP, CS,
// EFLAGS). Prints "PASS"/"FAIL" lines on the debug console, ends through the
// QEMU-style exit port: 0x21 (status 0x43) when all passed, 0x22 otherwise.
// Pure 32-bit code with its own Multiboot header, like entry_probe.
asm(R"(
    .pushsection .multiboot, "a"
    .balign 4
protected_probe_header:
    .long 0x1BADB002
    .long 0x00010003
    .long -(0x1BADB002 + 0x00010003)
    .long protected_probe_header
    .long __hyperbios_load_start
    .long __hyperbios_load_end
    .long __hyperbios_bss_end
    .long protected_probe_entry32
    .popsection

    .pushsection .bss.protected_probe, "aw", @nobits
    .balign 16
pp_idt: .skip 32 * 8
pp_stack: .skip 4096
pp_stack_top:
pp_seen_vector: .skip 4
pp_seen_eip: .skip 4
pp_seen_cs: .skip 4
pp_failed: .skip 4
    .popsection

    .pushsection .rodata.protected_probe, "a"
pp_idtr: .word 32 * 8 - 1
         .long pp_idt
pp_pass_ud: .asciz "PASS #UD through the kernel's 32-bit IDT: vector, EIP and CS in the frame\n"
pp_fail_ud: .asciz "FAIL #UD through the kernel's 32-bit IDT\n"
pp_pass_de: .asciz "PASS #DE through the kernel's 32-bit IDT: vector, EIP and CS in the frame\n"
pp_fail_de: .asciz "FAIL #DE through the kernel's 32-bit IDT\n"
pp_early: .asciz "protected_probe: an early #UD, before any IDT of the kernel's\n"
    .popsection

    .pushsection .text.protected_probe, "ax"
    .code32
    .global protected_probe_entry32
protected_probe_entry32:
    mov $pp_stack_top, %esp
    # Kernel argument "early": the command line ends in "y".
    mov 16(%ebx), %esi              # mbi->cmdline
1:  cmpb $0, (%esi)
    je 2f
    inc %esi
    jmp 1b
2:  cmpb $'y', -1(%esi)
    jne 3f
    mov $pp_early, %esi
    call pp_print
    ud2                             # caught by the host's entry IDT

3:  # Our own IDT: vectors 0 and 6 to pp_handler_de / pp_handler_ud.
    mov $pp_handler_de, %eax
    mov $0, %ecx
    call pp_set_gate
    mov $pp_handler_ud, %eax
    mov $6, %ecx
    call pp_set_gate
    lidt pp_idtr

    movl $0xFF, pp_seen_vector
    ud2
pp_after_ud:
    cmpl $6, pp_seen_vector
    jne 4f
    cmpl $pp_at_ud, pp_seen_eip
    jne 4f
    cmpl $0x08, pp_seen_cs
    jne 4f
    mov $pp_pass_ud, %esi
    jmp 5f
4:  mov $pp_fail_ud, %esi
    movl $1, pp_failed
5:  call pp_print

    movl $0xFF, pp_seen_vector
    xor %ecx, %ecx
    mov $1, %eax
    xor %edx, %edx
pp_at_de:
    div %ecx
pp_after_de:
    cmpl $0, pp_seen_vector
    jne 6f
    cmpl $pp_at_de, pp_seen_eip
    jne 6f
    mov $pp_pass_de, %esi
    jmp 7f
6:  mov $pp_fail_de, %esi
    movl $1, pp_failed
7:  call pp_print
    mov $0x21, %eax
    add pp_failed, %eax
    out %eax, $0xF4
    cli
    hlt

    .set pp_at_ud, pp_after_ud - 2   # UD2 is two bytes

# The handlers record what the CPU pushed and resume after the faulting instruction.
pp_handler_ud:
    movl $6, pp_seen_vector
    mov (%esp), %eax
    mov %eax, pp_seen_eip
    mov 4(%esp), %eax
    mov %eax, pp_seen_cs
    movl $pp_after_ud, (%esp)
    iret
pp_handler_de:
    movl $0, pp_seen_vector
    mov (%esp), %eax
    mov %eax, pp_seen_eip
    mov 4(%esp), %eax
    mov %eax, pp_seen_cs
    movl $pp_after_de, (%esp)
    iret

# EAX = handler, ECX = vector: a 32-bit interrupt gate, selector 0x08.
pp_set_gate:
    lea pp_idt(,%ecx,8), %edx
    mov %ax, (%edx)
    movw $0x08, 2(%edx)
    movw $0x8E00, 4(%edx)
    shr $16, %eax
    mov %ax, 6(%edx)
    ret

# ESI = NUL-terminated text, to port 0xE9.
pp_print:
    push %edx
    mov $0xE9, %dx
1:  lodsb
    test %al, %al
    jz 2f
    outb %al, %dx
    jmp 1b
2:  pop %edx
    ret
    .code64
    .popsection
)");
