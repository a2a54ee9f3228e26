// Opt-in boot stub: include in exactly ONE translation unit of a kernel and link
// with <hyperbios/boot/multiboot.ld>.
//
// The stub carries two ways in, so that one image boots on the loaders of both
// protocols:
// - a Multiboot (v1) header with the address fields (flag 16), so both ELF32 and
//   ELF64 images load on any Multiboot loader (GRUB, QEMU -kernel, the HyperBIOS
//   reference host); the loader enters with EAX = 0x2BADB002, EBX = the
//   Multiboot information;
// - a Xen PVH ELF note (XEN_ELFNOTE_PHYS32_ENTRY, owner "Xen", type 18) naming a
//   32-bit entry, for direct-boot VMMs (Firecracker, cloud-hypervisor, QEMU
//   -kernel when there is no Multiboot header -- QEMU prefers Multiboot when it
//   finds both, Xen); the loader enters in protected mode with paging off and
//   EBX = the physical address of hvm_start_info, and the stub puts that
//   structure's magic, 0x336ec578, where Multiboot has its own.
// Both entries then take the same path: from 32-bit protected mode the stub
// builds page tables that identity-map the first 4 GiB (2 MiB pages, and 4 KiB
// pages for the first 2 MiB with page 0 left out, so that a null pointer faults,
// unless the loader's information lies there), enters 64-bit long mode, turns on
// x87 and SSE (CR0.MP/NE, CR4.OSFXSR/OSXMMEXCPT), sets up the boot CPU's
// thread-local storage (FS base; __thread variables start with their initial
// values, see multiboot.ld; HYPERBIOS_BOOT_NO_TLS leaves it out, for a linker
// script without the __hyperbios_tls_* symbols), installs an IDT whose default
// handler reports any exception and shuts down with exit code 70
// (<hyperbios/interrupts.hpp>; HYPERBIOS_BOOT_NO_INTERRUPTS leaves it out), runs
// the kernel's global constructors and calls
//
//     extern "C" void kernel_main(uint32_t loader_magic, uint32_t loader_info);
//
// (rename it by defining HYPERBIOS_BOOT_ENTRY before the include). The two
// arguments are the magic and the address above; hyperbios::boot::boot_info
// (<hyperbios/boot/boot_info.hpp>, included here) reads the memory map and the
// command line from either protocol. If kernel_main returns, the CPU halts. On a
// CPU without long mode the stub writes a message to the 0xE9 debug port and
// halts.
//
// HYPERBIOS_BOOT_NO_MULTIBOOT leaves the Multiboot header out, HYPERBIOS_BOOT_NO_PVH
// the PVH note (hyperbios_add_kernel's BOOT_PROTOCOLS sets them): a loader that
// understands both picks whichever it prefers, so an image that must be booted
// one particular way carries only that one.
#ifndef HYPERBIOS_BOOT_MULTIBOOT_HPP
#define HYPERBIOS_BOOT_MULTIBOOT_HPP

#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/multiboot_info.hpp>
#include <hyperbios/boot/pvh_info.hpp>
#include <stdint.h>

#ifndef HYPERBIOS_BOOT_ENTRY
#define HYPERBIOS_BOOT_ENTRY kernel_main
#endif
#ifndef HYPERBIOS_BOOT_STACK_SIZE
#define HYPERBIOS_BOOT_STACK_SIZE 65536
#endif

#define HYPERBIOS_DETAIL_STR2(x) #x
#define HYPERBIOS_DETAIL_STR(x) HYPERBIOS_DETAIL_STR2(x)

// The IDT with the default crash handler (<hyperbios/interrupts.hpp>), installed
// before kernel_main unless the kernel defines HYPERBIOS_BOOT_NO_INTERRUPTS.
#ifndef HYPERBIOS_BOOT_NO_INTERRUPTS
#include <hyperbios/boot/interrupts.hpp>
#define HYPERBIOS_DETAIL_INSTALL_IDT "    callq hyperbios_interrupts_install\n"
#else
#define HYPERBIOS_DETAIL_INSTALL_IDT ""
#endif

// Thread-local storage for the boot CPU (x86-64 ELF TLS, variant II): the TLS
// block ends at the thread control block, whose first word points to itself
// (%fs:0, which code reads to take a __thread variable's address), and FS's base
// is the TCB. .tdata's initial values are copied into the block and the rest
// (.tbss, padding) zeroed, so a __thread variable starts as declared.
// multiboot.ld reserves block and TCB at the end of .bss and defines the four
// __hyperbios_tls_* symbols read here. They are ordinary (not weak) references,
// so a linker script that defines some of them but not all fails the link and
// names each one missing, instead of giving a TLS block of size 0; a kernel
// whose script has no TLS says so by defining HYPERBIOS_BOOT_NO_TLS (then none
// of them is referenced), or sets __hyperbios_tls_tcb to 0 in its script (for
// the prebuilt libhyperbios-boot.a, which cannot see the kernel's macros). The
// code lies in a function of its own, whose name the linker's message gives:
// "in function `hyperbios_boot_set_up_tls_or_define_HYPERBIOS_BOOT_NO_TLS':
// undefined reference to `__hyperbios_tls_block_size'".
#ifndef HYPERBIOS_BOOT_NO_TLS
#define HYPERBIOS_DETAIL_SET_UP_TLS "    callq hyperbios_boot_set_up_tls_or_define_HYPERBIOS_BOOT_NO_TLS\n"
asm(R"(
    .pushsection .text.hyperbios_boot, "ax"
    .code64
    .type hyperbios_boot_set_up_tls_or_define_HYPERBIOS_BOOT_NO_TLS, @function
hyperbios_boot_set_up_tls_or_define_HYPERBIOS_BOOT_NO_TLS:
    movq $__hyperbios_tls_tcb, %rdx
    testq %rdx, %rdx
    jz 1f
    movq %rdx, (%rdx)
    movq %rdx, %rdi
    subq $__hyperbios_tls_block_size, %rdi
    movq $__hyperbios_tls_start, %rsi
    movq $__hyperbios_tls_image_size, %rcx
    rep movsb
    movq $__hyperbios_tls_block_size, %rcx
    subq $__hyperbios_tls_image_size, %rcx
    xorl %eax, %eax
    rep stosb
    movl $0xC0000100, %ecx          # IA32_FS_BASE
    movl %edx, %eax
    shrq $32, %rdx
    wrmsr
1:  ret
    .size hyperbios_boot_set_up_tls_or_define_HYPERBIOS_BOOT_NO_TLS, . - hyperbios_boot_set_up_tls_or_define_HYPERBIOS_BOOT_NO_TLS
    .popsection
)");
#else
#define HYPERBIOS_DETAIL_SET_UP_TLS ""
#endif

namespace hyperbios::boot {
// The boot stub's page tables, for a kernel that changes its address space
// (guard pages, a higher half): the PML4, the PDPT, four page directories that
// map the first 4 GiB with 2 MiB pages, and the page table of the first 2 MiB
// (4 KiB pages; page 0 not present unless the loader's information lies there).
// Identity-mapped, so these addresses are physical and virtual at once.
extern "C" uint64_t hyperbios_boot_pml4[512], hyperbios_boot_pdpt[512], hyperbios_boot_pd[4 * 512],
    hyperbios_boot_pt0[512];
struct page_tables {
    uint64_t* pml4;
    uint64_t* pdpt;
    uint64_t* pd;   // 4 tables, 2048 entries
    uint64_t* pt0;
};
inline page_tables boot_page_tables() noexcept
{
    return {hyperbios_boot_pml4, hyperbios_boot_pdpt, hyperbios_boot_pd, hyperbios_boot_pt0};
}
}  // namespace hyperbios::boot

extern "C" void HYPERBIOS_BOOT_ENTRY(uint32_t loader_magic, uint32_t loader_info);

// Flags: page-align modules, ask for memory information, address fields valid.
// Checksum: magic + flags + checksum == 0 (mod 2^32).
#ifndef HYPERBIOS_BOOT_NO_MULTIBOOT
asm(R"(
    .pushsection .multiboot, "a"
    .balign 4
    .global hyperbios_multiboot_header
hyperbios_multiboot_header:
    .long 0x1BADB002
    .long 0x00010003
    .long -(0x1BADB002 + 0x00010003)
    .long hyperbios_multiboot_header
    .long __hyperbios_load_start
    .long __hyperbios_load_end
    .long __hyperbios_bss_end
    .long hyperbios_boot_entry32
    .popsection
)");
#endif

// The PVH note. Its section must be 4-aligned and nothing more: QEMU finds the
// descriptor by rounding the name's size up to the PT_NOTE segment's alignment.
// The descriptor is 8 bytes, as Linux writes it on x86-64: QEMU reads 8 bytes
// from an ELF64 note and 4 from an ELF32 one, linux-loader (Firecracker,
// cloud-hypervisor) the low 4, all little-endian.
#ifndef HYPERBIOS_BOOT_NO_PVH
asm(R"(
    .pushsection .note.Xen, "a", @note
    .balign 4
    .long .Lhyperbios_pvh_name_end - .Lhyperbios_pvh_name
    .long .Lhyperbios_pvh_desc_end - .Lhyperbios_pvh_desc
    .long 18                        # XEN_ELFNOTE_PHYS32_ENTRY
.Lhyperbios_pvh_name:
    .asciz "Xen"
.Lhyperbios_pvh_name_end:
    .balign 4
.Lhyperbios_pvh_desc:
    .quad hyperbios_boot_pvh_entry32
.Lhyperbios_pvh_desc_end:
    .popsection

    # PVH entry: protected mode, paging off, flat segments, EBX = hvm_start_info,
    # no stack. The Multiboot path takes it from here with the PVH magic in EAX.
    .pushsection .text.hyperbios_boot, "ax"
    .code32
    .global hyperbios_boot_pvh_entry32
hyperbios_boot_pvh_entry32:
    movl $0x336ec578, %eax
    jmp hyperbios_boot_entry32
    .code64
    .popsection
)");
#endif

asm(R"(
    .pushsection .bss, "aw", @nobits
    .balign 4096
    .global hyperbios_boot_pml4, hyperbios_boot_pdpt, hyperbios_boot_pd, hyperbios_boot_pt0
hyperbios_boot_pml4: .skip 4096
hyperbios_boot_pdpt: .skip 4096
hyperbios_boot_pd:   .skip 4 * 4096
hyperbios_boot_pt0:  .skip 4096
    .balign 16
hyperbios_boot_stack: .skip )" HYPERBIOS_DETAIL_STR(HYPERBIOS_BOOT_STACK_SIZE) R"(
hyperbios_boot_stack_top:
    .popsection

    .pushsection .rodata, "a"
    .balign 16
hyperbios_boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF      # 0x08: 64-bit code
    .quad 0x00CF92000000FFFF      # 0x10: data
hyperbios_boot_gdt_end:
hyperbios_boot_gdt_pointer:
    .word hyperbios_boot_gdt_end - hyperbios_boot_gdt - 1
    .quad hyperbios_boot_gdt
hyperbios_boot_no_long_mode:
    .asciz "HyperBIOS boot stub: this CPU has no 64-bit long mode; halting.\n"
    .popsection

    .pushsection .text.hyperbios_boot, "ax"
    .code32
    .global hyperbios_boot_entry32
hyperbios_boot_entry32:
    cli
    cld
    movl %eax, %edi                 # loader magic, first argument of the entry
    movl %ebx, %esi                 # loader information, second argument
    movl $hyperbios_boot_stack_top, %esp

    movl $0x80000000, %eax          # long mode available?
    cpuid
    cmpl $0x80000001, %eax
    jb 9f
    movl $0x80000001, %eax
    cpuid
    btl $29, %edx
    jnc 9f

    # PML4[0] -> PDPT; PDPT[0..3] -> PD 0..3; PD[i] -> i * 2 MiB (present, writable, large).
    movl $hyperbios_boot_pdpt + 3, %eax
    movl %eax, hyperbios_boot_pml4
    movl $0, hyperbios_boot_pml4 + 4
    movl $hyperbios_boot_pd + 3, %eax
    xorl %ecx, %ecx
1:  movl %eax, hyperbios_boot_pdpt(,%ecx,8)
    movl $0, hyperbios_boot_pdpt + 4(,%ecx,8)
    addl $4096, %eax
    incl %ecx
    cmpl $4, %ecx
    jb 1b
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, hyperbios_boot_pd(,%ecx,8)
    movl $0, hyperbios_boot_pd + 4(,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jb 2b
    # The first 2 MiB through 4 KiB pages, page 0 left out so that a null pointer
    # faults -- unless the loader put there something the kernel reads: its
    # information structure (Multiboot info, PVH start info), the memory map or
    # the command line.
    movl $1, %ecx
8:  movl %ecx, %eax
    shll $12, %eax
    orl $3, %eax
    movl %eax, hyperbios_boot_pt0(,%ecx,8)
    incl %ecx
    cmpl $512, %ecx
    jb 8b
    # Paging is still off, so the loader's structures can be read anywhere here.
    cmpl $0x1000, %esi
    jae 7f
    movl $3, hyperbios_boot_pt0
7:  cmpl $0x2BADB002, %edi
    jne .Lhyperbios_boot_not_multiboot
    testl $0x4, (%esi)              # Multiboot flags: the command line is valid
    jz 7f
    movl 16(%esi), %eax
    call .Lhyperbios_boot_keep_page0
7:  testl $0x40, (%esi)             # the memory map is valid
    jz .Lhyperbios_boot_not_multiboot
    movl 48(%esi), %eax
    call .Lhyperbios_boot_keep_page0
.Lhyperbios_boot_not_multiboot:
    cmpl $0x336ec578, %edi
    jne .Lhyperbios_boot_page0_decided
    cmpl $0, 28(%esi)               # PVH: cmdline_paddr, when below 4 GiB
    jne 7f
    movl 24(%esi), %eax
    call .Lhyperbios_boot_keep_page0
7:  cmpl $1, 4(%esi)                # memmap_paddr, from version 1 on
    jb .Lhyperbios_boot_page0_decided
    cmpl $0, 44(%esi)
    jne .Lhyperbios_boot_page0_decided
    movl 40(%esi), %eax             # QEMU 7.2 puts the map at 0x5A8
    call .Lhyperbios_boot_keep_page0
.Lhyperbios_boot_page0_decided:
    movl $hyperbios_boot_pt0 + 3, %eax
    movl %eax, hyperbios_boot_pd

    movl $hyperbios_boot_pml4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $0x20, %eax                 # PAE
    movl %eax, %cr4
    movl $0xC0000080, %ecx          # EFER.LME
    rdmsr
    orl $0x100, %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax           # PG | PE
    movl %eax, %cr0
    lgdt hyperbios_boot_gdt_pointer
    ljmp $0x08, $hyperbios_boot_entry64

9:  movl $hyperbios_boot_no_long_mode, %esi
    movw $0xE9, %dx
3:  lodsb
    testb %al, %al
    jz 4f
    outb %al, %dx
    jmp 3b
4:  cli
    hlt
    jmp 4b

    # Maps page 0 when EAX, an address the kernel will read, lies in it; 0 is
    # the loaders' "none".
.Lhyperbios_boot_keep_page0:
    testl %eax, %eax
    jz 1f
    cmpl $0x1000, %eax
    jae 1f
    movl $3, hyperbios_boot_pt0
1:  ret

    .code64
hyperbios_boot_entry64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl $hyperbios_boot_stack_top, %esp
    movl %edi, %r12d                # upper halves are undefined after the mode switch
    movl %esi, %r13d
    # x87 and SSE on, so that code built with ordinary compiler flags runs (at entry
    # CR4 is 0: the first SSE instruction would raise #UD): CR0.EM clear, CR0.MP
    # and CR0.NE set, CR4.OSFXSR and CR4.OSXMMEXCPT set, a clean x87 state.
    movq %cr0, %rax
    andq $~0x4, %rax                # EM
    orq $0x22, %rax                 # MP | NE
    movq %rax, %cr0
    movq %cr4, %rax
    orq $0x600, %rax                # OSFXSR | OSXMMEXCPT
    movq %rax, %cr4
    fninit
)" HYPERBIOS_DETAIL_SET_UP_TLS HYPERBIOS_DETAIL_INSTALL_IDT R"(
    xorl %ebp, %ebp
    movq $__hyperbios_init_array_start, %rbx
5:  cmpq $__hyperbios_init_array_end, %rbx
    jae 6f
    callq *(%rbx)
    addq $8, %rbx
    jmp 5b
6:  movl %r12d, %edi
    movl %r13d, %esi
    callq )" HYPERBIOS_DETAIL_STR(HYPERBIOS_BOOT_ENTRY) R"(
7:  cli
    hlt
    jmp 7b
    .popsection
)");

#endif
