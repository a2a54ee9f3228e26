// The Multiboot (v1) information structure a loader passes in EBX.
#ifndef HYPERBIOS_BOOT_MULTIBOOT_INFO_HPP
#define HYPERBIOS_BOOT_MULTIBOOT_INFO_HPP

#include <stdint.h>

namespace hyperbios::multiboot {

inline constexpr uint32_t header_magic = 0x1BADB002u;
inline constexpr uint32_t loader_magic = 0x2BADB002u;  // in EAX at entry

// Header flags.
inline constexpr uint32_t header_page_align = 1u << 0;
inline constexpr uint32_t header_memory_info = 1u << 1;
inline constexpr uint32_t header_address_fields = 1u << 16;

// Information flags: which fields of `info` are valid.
inline constexpr uint32_t info_memory = 1u << 0;
inline constexpr uint32_t info_cmdline = 1u << 2;
inline constexpr uint32_t info_memory_map = 1u << 6;
inline constexpr uint32_t info_loader_name = 1u << 9;

struct info {
    uint32_t flags;
    uint32_t mem_lower;  // KiB below 1 MiB
    uint32_t mem_upper;  // KiB above 1 MiB, up to the first hole
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;
    uint32_t mmap_addr;
    uint32_t drives_length;
    uint32_t drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name;
    uint32_t apm_table;
};
static_assert(sizeof(info) == 72);

// One memory-map entry; `size` does not count itself.
struct [[gnu::packed]] mmap_entry {
    uint32_t size;
    uint64_t addr;
    uint64_t len;
    uint32_t type;  // 1: available RAM
};
static_assert(sizeof(mmap_entry) == 24);

}  // namespace hyperbios::multiboot

#endif
