// The Xen PVH direct-boot structures a loader passes in EBX: `hvm_start_info`
// and its memory map, as xen/include/public/arch-x86/hvm/start_info.h defines
// them. QEMU's -kernel (for an ELF without a Multiboot header), Firecracker,
// cloud-hypervisor and Xen boot a kernel this way when its ELF carries a
// XEN_ELFNOTE_PHYS32_ENTRY note (the boot stub writes one).
#ifndef HYPERBIOS_BOOT_PVH_INFO_HPP
#define HYPERBIOS_BOOT_PVH_INFO_HPP

#include <stdint.h>

namespace hyperbios::pvh {

// In hvm_start_info::magic. The boot stub also passes it to the kernel entry as
// its first argument, where a Multiboot loader would put 0x2BADB002.
inline constexpr uint32_t start_info_magic = 0x336ec578u;

// The ELF note that names the 32-bit entry: owner "Xen", type 18.
inline constexpr uint32_t elfnote_phys32_entry = 18;

struct start_info {
    uint32_t magic;
    uint32_t version;  // 0: the fields up to rsdp_paddr; 1: the memory map too
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;  // NUL-terminated; 0 when there is none
    uint64_t rsdp_paddr;
    // Version 1 and later.
    uint64_t memmap_paddr;
    uint32_t memmap_entries;
    uint32_t reserved;
};
// The boot stub's assembly reads cmdline_paddr and memmap_paddr at these offsets.
static_assert(sizeof(start_info) == 56 && __builtin_offsetof(start_info, cmdline_paddr) == 24 &&
              __builtin_offsetof(start_info, memmap_paddr) == 40);

// One memory-map entry. The types are E820's (1: RAM), as in Multiboot.
struct memmap_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};
static_assert(sizeof(memmap_entry) == 24);

}  // namespace hyperbios::pvh

#endif
