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
// builds page tables that identity-map the first 4 GiB and, above, all RAM the
// loader's memory map reports (see "The identity map" below), enters 64-bit long mode, turns on
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
// The identity map: from 0 up to the highest end of an available (type 1) range
// of the loader's memory map (Multiboot's mmap, PVH's memmap), rounded up to a
// GiB, and at least the first 4 GiB, holes and all. The first 4 GiB use 2 MiB
// pages, and 4 KiB pages for the first 2 MiB with page 0 left out, so that a null
// pointer faults, unless the loader's information, memory map or command line
// lies there. Above 4 GiB the stub uses 1 GiB pages where CPUID says the CPU has
// them (80000001h:EDX bit 26), up to 512 GiB (one page-directory-pointer table);
// otherwise 2 MiB pages from the page directories it reserves in .bss, one per
// GiB: HYPERBIOS_BOOT_PAGE_DIRECTORIES of them (default 32, at least 4, at most
// 512; 4 KiB of .bss each), so 32 GiB by default. RAM beyond what fits is left
// unmapped; hyperbios::boot::identity_map_end() says where the map ends.
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
#ifndef HYPERBIOS_BOOT_PAGE_DIRECTORIES
#define HYPERBIOS_BOOT_PAGE_DIRECTORIES 32
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
// The page directories the stub reserves (HYPERBIOS_BOOT_PAGE_DIRECTORIES).
inline constexpr unsigned page_directories = HYPERBIOS_BOOT_PAGE_DIRECTORIES;
static_assert(page_directories >= 4 && page_directories <= 512,
              "HYPERBIOS_BOOT_PAGE_DIRECTORIES: from 4 (the first 4 GiB) to 512 (one PDPT)");

// The boot stub's page tables, for a kernel that changes its address space
// (guard pages, a higher half): the PML4, the PDPT, the page directories (the
// first four map the first 4 GiB with 2 MiB pages, pd[i] mapping i * 2 MiB; the
// rest map RAM above 4 GiB the same way when the CPU has no 1 GiB pages, and
// are zero where unused) and the page table of the first 2 MiB (4 KiB pages;
// page 0 not present unless the loader's information lies there).
// Identity-mapped, so these addresses are physical and virtual at once.
extern "C" uint64_t hyperbios_boot_pml4[512], hyperbios_boot_pdpt[512],
    hyperbios_boot_pd[HYPERBIOS_BOOT_PAGE_DIRECTORIES * 512], hyperbios_boot_pt0[512];
extern "C" uint64_t hyperbios_boot_identity_end;
struct page_tables {
    uint64_t* pml4;
    uint64_t* pdpt;
    uint64_t* pd;   // page_directories tables of 512 entries
    uint64_t* pt0;
};
inline page_tables boot_page_tables() noexcept
{
    return {hyperbios_boot_pml4, hyperbios_boot_pdpt, hyperbios_boot_pd, hyperbios_boot_pt0};
}

// One past the last byte the stub identity-mapped: a multiple of 1 GiB, at
// least 4 GiB, at least the end of the highest RAM range of the loader's map
// unless that lies beyond what the tables can hold (see the top of this file).
inline uint64_t identity_map_end() noexcept { return hyperbios_boot_identity_end; }
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
    .global hyperbios_boot_identity_end
hyperbios_boot_pml4: .skip 4096
hyperbios_boot_pdpt: .skip 4096
hyperbios_boot_pd:   .skip )" HYPERBIOS_DETAIL_STR(HYPERBIOS_BOOT_PAGE_DIRECTORIES) R"( * 4096
hyperbios_boot_pt0:  .skip 4096
hyperbios_boot_identity_end: .skip 8
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

    # How far to map, in GiB (EBP): at least 4, and up to the highest end of an
    # available (type 1) range of the loader's memory map. Paging is off: the
    # loader's structures are read where they are.
    movl $4, %ebp
    cmpl $0x2BADB002, %edi
    jne 34f
    testl $0x40, (%esi)             # Multiboot: the memory map is valid
    jz 39f
    movl 48(%esi), %ebx             # mmap_addr
    movl 44(%esi), %ecx             # mmap_length
    addl %ebx, %ecx                 # the map's end
    jc 39f
30: cmpl %ecx, %ebx                 # an entry: size, addr, len, type (24 bytes with its size)
    jae 39f
    movl %ecx, %eax
    subl %ebx, %eax
    cmpl $24, %eax
    jb 39f
    cmpl $20, (%ebx)                # entries too short to hold the fields end the map
    jb 39f
    cmpl $1, 20(%ebx)
    jne 31f
    movl 4(%ebx), %eax              # EDX:EAX = addr + len, CF when that wraps
    movl 8(%ebx), %edx
    addl 12(%ebx), %eax
    adcl 16(%ebx), %edx
    call .Lhyperbios_boot_note_ram_end
31: movl (%ebx), %eax               # the next entry: size does not count itself
    addl %eax, %ebx
    jc 39f
    addl $4, %ebx
    jc 39f
    jmp 30b
34: cmpl $0x336ec578, %edi          # PVH: memmap_paddr and memmap_entries, from version 1 on
    jne 39f
    cmpl $1, 4(%esi)
    jb 39f
    cmpl $0, 44(%esi)
    jne 39f
    movl 40(%esi), %ebx
    movl 48(%esi), %ecx
35: testl %ecx, %ecx                # an entry: addr, size, type, reserved (24 bytes)
    jz 39f
    cmpl $1, 16(%ebx)
    jne 36f
    movl (%ebx), %eax
    movl 4(%ebx), %edx
    addl 8(%ebx), %eax
    adcl 12(%ebx), %edx
    call .Lhyperbios_boot_note_ram_end
36: addl $24, %ebx
    jc 39f
    decl %ecx
    jmp 35b
39:
    # Above 4 GiB: 1 GiB pages where the CPU has them (EBX != 0), up to 512 GiB;
    # otherwise 2 MiB pages, as far as the page directories reserved reach.
    movl $0x80000001, %eax
    cpuid
    movl %edx, %ebx
    andl $0x4000000, %ebx           # CPUID.80000001h:EDX.Page1GB
    jnz 1f
    cmpl $)" HYPERBIOS_DETAIL_STR(HYPERBIOS_BOOT_PAGE_DIRECTORIES) R"(, %ebp
    jbe 1f
    movl $)" HYPERBIOS_DETAIL_STR(HYPERBIOS_BOOT_PAGE_DIRECTORIES) R"(, %ebp
1:  movl %ebp, %eax                 # identity_map_end() = EBP GiB
    shll $30, %eax
    movl %eax, hyperbios_boot_identity_end
    movl %ebp, %eax
    shrl $2, %eax
    movl %eax, hyperbios_boot_identity_end + 4

    # PML4[0] -> PDPT; PDPT[g] -> PD g for the first 4 GiB (all of the map without
    # 1 GiB pages); PD[i] -> i * 2 MiB (present, writable, large).
    movl $hyperbios_boot_pdpt + 3, %eax
    movl %eax, hyperbios_boot_pml4
    movl $0, hyperbios_boot_pml4 + 4
    movl $4, %edx                   # the page directories used
    testl %ebx, %ebx
    jnz 1f
    movl %ebp, %edx
1:  movl $hyperbios_boot_pd + 3, %eax
    xorl %ecx, %ecx
1:  movl %eax, hyperbios_boot_pdpt(,%ecx,8)
    movl $0, hyperbios_boot_pdpt + 4(,%ecx,8)
    addl $4096, %eax
    incl %ecx
    cmpl %edx, %ecx
    jb 1b
    shll $9, %edx                   # 512 entries each
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, hyperbios_boot_pd(,%ecx,8)
    movl %ecx, %eax
    shrl $11, %eax
    movl %eax, hyperbios_boot_pd + 4(,%ecx,8)
    incl %ecx
    cmpl %edx, %ecx
    jb 2b
    # With 1 GiB pages: PDPT[g] -> g GiB for g from 4 up to EBP.
    testl %ebx, %ebx
    jz 2f
    movl $4, %ecx
1:  cmpl %ebp, %ecx
    jae 2f
    movl %ecx, %eax
    shll $30, %eax
    orl $0x83, %eax
    movl %eax, hyperbios_boot_pdpt(,%ecx,8)
    movl %ecx, %eax
    shrl $2, %eax
    movl %eax, hyperbios_boot_pdpt + 4(,%ecx,8)
    incl %ecx
    jmp 1b
2:
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

    # EDX:EAX is the end of a RAM range (CF: it wrapped past 2^64): EBP becomes
    # at least that many GiB, rounded up, and at most 512 (one PDPT's reach).
.Lhyperbios_boot_note_ram_end:
    jc 2f
    cmpl $0x80, %edx                # 512 GiB or more
    jae 2f
    pushl %ecx
    xorl %ecx, %ecx
    testl $0x3FFFFFFF, %eax         # a part of a GiB counts as one
    setnz %cl
    shrl $30, %eax
    shll $2, %edx
    orl %edx, %eax
    addl %ecx, %eax
    popl %ecx
    cmpl %eax, %ebp
    jae 1f
    movl %eax, %ebp
1:  ret
2:  movl $512, %ebp
    ret

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
