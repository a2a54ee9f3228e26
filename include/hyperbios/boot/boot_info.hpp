// What the boot loader told the kernel, whichever protocol started it: the
// memory map (sorted by address) and the command line. The boot stub enters
// kernel_main(magic, info) from Multiboot (magic 0x2BADB002, info = the Multiboot
// information) or from PVH (magic 0x336ec578, info = hvm_start_info); pass both
// arguments on unchanged:
//
//     extern "C" void kernel_main(uint32_t magic, uint32_t info)
//     {
//         static hyperbios::boot::boot_info boot;   // ~7 KiB: keep it off small stacks
//         boot.read(magic, info);
//         for (const auto& r : boot.memory_map())
//             if (r.is_usable()) ...
//     }
//
// read() copies the map and the split arguments out of the loader's structures,
// so the kernel may reuse that memory afterwards, except for command_line() and
// arguments().text(), which stay where the loader put them. The structures must lie in the first 4 GiB, which the boot
// stub identity-maps; anything the loader placed above is ignored.
#ifndef HYPERBIOS_BOOT_BOOT_INFO_HPP
#define HYPERBIOS_BOOT_BOOT_INFO_HPP

#include <hyperbios/boot/kernel_arguments.hpp>
#include <hyperbios/boot/multiboot_info.hpp>
#include <hyperbios/boot/pvh_info.hpp>
#include <hyperbios/memory_region.hpp>
#include <stddef.h>
#include <stdint.h>

namespace hyperbios::boot {

enum class protocol : uint8_t {
    unknown,    // the magic matched neither protocol: nothing is known
    multiboot,  // Multiboot v1 (GRUB, QEMU -kernel, the reference host)
    pvh,        // Xen PVH direct boot (QEMU -kernel without a Multiboot header, Firecracker, ...)
};

// The entries of the map are hyperbios::memory_region (<hyperbios/memory_region.hpp>).
// Earlier names, kept for kernels that use them:
using memory_range = memory_region;
inline constexpr uint32_t memory_ram = memory_type::usable;
inline constexpr uint32_t memory_reserved = memory_type::reserved;
inline constexpr uint32_t memory_acpi_reclaimable = memory_type::acpi_reclaimable;
inline constexpr uint32_t memory_acpi_nvs = memory_type::acpi_nvs;
inline constexpr uint32_t memory_unusable = memory_type::unusable;

// E820 tables have at most 128 entries on PCs (Linux's boot protocol keeps as
// many); a longer map is cut (see truncated()).
inline constexpr size_t max_memory_ranges = 128;

class boot_info {
public:
    constexpr boot_info() noexcept = default;

    // Reads the loader's structures; forgets what an earlier read() found.
    void read(uint32_t magic, uint32_t info_address) noexcept
    {
        protocol_ = protocol::unknown;
        count_ = 0;
        truncated_ = from_map_ = false;
        ram_end_ = 0;
        command_line_ = nullptr;
        multiboot_ = nullptr;
        pvh_ = nullptr;
        if (magic == multiboot::loader_magic && readable(info_address, sizeof(multiboot::info)))
            read_multiboot(reinterpret_cast<const multiboot::info*>(uintptr_t(info_address)));
        else if (magic == pvh::start_info_magic && readable(info_address, sizeof(pvh::start_info)))
            read_pvh(reinterpret_cast<const pvh::start_info*>(uintptr_t(info_address)));
        arguments_.parse(command_line_, protocol_ == protocol::multiboot);
    }

    constexpr protocol loader_protocol() const noexcept { return protocol_; }

    // The loader's whole command line, never null ("" when it gave none).
    // Multiboot loaders put the kernel's path first (GRUB, QEMU, the reference
    // host); PVH loaders pass only the arguments.
    constexpr const char* command_line() const noexcept { return command_line_ ? command_line_ : ""; }

    // The kernel's arguments without the image path: arguments().text() as the
    // loader wrote them, range-for over the words, value("key") of "key=value"
    // (<hyperbios/boot/kernel_arguments.hpp>).
    constexpr const kernel_arguments& arguments() const noexcept { return arguments_; }

    // The image path Multiboot loaders put first; "" under PVH.
    constexpr const char* image_path() const noexcept { return arguments_.image_path(); }

    // The memory map, sorted by base address (equal bases keep the loader's
    // order): range-for over memory_region {base, length, type}. Loaders may
    // report overlapping entries; they are kept as reported.
    using range_list = memory_region_list;
    constexpr memory_region_list memory_map() const noexcept { return {ranges_, count_}; }

    // True when the map came from the loader's memory map; false when it was
    // made from Multiboot's mem_lower/mem_upper (two RAM ranges, below 1 MiB and
    // from 1 MiB up to the first hole) because the loader gave no map.
    constexpr bool memory_map_from_loader() const noexcept { return from_map_; }

    // More than max_memory_ranges entries: those with the highest addresses were
    // left out. ram_end() still counts them.
    constexpr bool truncated() const noexcept { return truncated_; }

    // One past the last byte of the highest RAM range; 0 when nothing is known.
    constexpr uint64_t ram_end() const noexcept { return ram_end_; }

    // Whether every byte of [address, address + length) lies in RAM ranges and
    // in no range of another type (loaders may report overlaps; the stricter
    // answer wins). An empty range holds no byte outside RAM: true. A range that
    // wraps past 2^64 is not RAM.
    constexpr bool is_ram(uint64_t address, uint64_t length) const noexcept
    {
        if (length == 0)
            return true;
        const uint64_t last = address + (length - 1);
        if (last < address)
            return false;
        // Sorted by base: one pass moves `covered` through adjoining RAM ranges.
        uint64_t covered = address;  // every byte below it (from address on) is RAM
        for (size_t i = 0; i < count_ && ranges_[i].base <= covered; ++i) {
            const memory_region& r = ranges_[i];
            if (!r.is_usable() || r.length == 0 || r.end() <= covered)
                continue;
            if (r.end() - 1 >= last)
                return !overlaps_other_type(address, last);
            covered = r.end();
        }
        return false;
    }

    // The loader's own structure, for what this class does not read (modules,
    // ACPI RSDP, boot loader name); null unless that protocol started the kernel.
    constexpr const multiboot::info* multiboot_info() const noexcept { return multiboot_; }
    constexpr const pvh::start_info* pvh_start_info() const noexcept { return pvh_; }

private:
    // The loader's structures are read in the first 4 GiB, which the boot stub
    // always identity-maps (and a 32-bit loader fills); above is ignored.
    static constexpr bool readable(uint64_t address, uint64_t size) noexcept
    {
        return address != 0 && address < (1ull << 32) && size <= (1ull << 32) - address;
    }

    constexpr bool overlaps_other_type(uint64_t first, uint64_t last) const noexcept
    {
        for (size_t i = 0; i < count_; ++i) {
            const memory_region& r = ranges_[i];
            if (!r.is_usable() && r.length != 0 && r.base <= last && r.end() - 1 >= first)
                return true;
        }
        return false;
    }

    // Keeps ranges_ sorted by base as entries arrive. Swaps rather than shifts:
    // GCC turns a shifting loop into a call to memmove, which a freestanding
    // kernel does not have.
    void add(uint64_t base, uint64_t length, uint32_t type) noexcept
    {
        if (length == 0)
            return;
        const memory_region r{base, length, type};
        if (r.is_usable() && r.end() > ram_end_)
            ram_end_ = r.end();
        size_t at = count_;
        if (count_ == max_memory_ranges) {
            truncated_ = true;
            if (base >= ranges_[count_ - 1].base)
                return;
            at = count_ - 1;  // replaces the highest entry, which is dropped
        } else {
            ++count_;
        }
        ranges_[at] = r;
        for (; at > 0 && ranges_[at - 1].base > ranges_[at].base; --at) {
            const memory_region lower = ranges_[at];
            ranges_[at] = ranges_[at - 1];
            ranges_[at - 1] = lower;
        }
    }

    void read_multiboot(const multiboot::info* info) noexcept
    {
        protocol_ = protocol::multiboot;
        multiboot_ = info;
        if ((info->flags & multiboot::info_cmdline) && readable(info->cmdline, 1))
            command_line_ = reinterpret_cast<const char*>(uintptr_t(info->cmdline));
        if ((info->flags & multiboot::info_memory_map) && readable(info->mmap_addr, info->mmap_length)) {
            // Each entry's `size` does not count itself; loaders may make entries
            // longer than the 20 bytes read here.
            uint64_t at = info->mmap_addr;
            const uint64_t end = at + info->mmap_length;
            while (at + sizeof(multiboot::mmap_entry) <= end) {
                const auto* e = reinterpret_cast<const multiboot::mmap_entry*>(uintptr_t(at));
                if (e->size < sizeof(multiboot::mmap_entry) - 4)
                    break;
                add(e->addr, e->len, e->type);
                at += uint64_t(e->size) + 4;
            }
            from_map_ = count_ > 0;
        }
        if (!from_map_ && (info->flags & multiboot::info_memory)) {
            add(0, uint64_t(info->mem_lower) * 1024, memory_ram);
            add(0x100000, uint64_t(info->mem_upper) * 1024, memory_ram);
        }
    }

    void read_pvh(const pvh::start_info* info) noexcept
    {
        if (info->magic != pvh::start_info_magic)
            return;
        protocol_ = protocol::pvh;
        pvh_ = info;
        if (info->cmdline_paddr && readable(info->cmdline_paddr, 1))
            command_line_ = reinterpret_cast<const char*>(uintptr_t(info->cmdline_paddr));
        // Version 0 has no memory map: then nothing is known about memory.
        if (info->version >= 1 &&
            readable(info->memmap_paddr, uint64_t(info->memmap_entries) * sizeof(pvh::memmap_entry))) {
            const auto* map = reinterpret_cast<const pvh::memmap_entry*>(uintptr_t(info->memmap_paddr));
            for (uint32_t i = 0; i < info->memmap_entries; ++i)
                add(map[i].addr, map[i].size, map[i].type);
            from_map_ = count_ > 0;
        }
    }

    memory_region ranges_[max_memory_ranges] = {};
    kernel_arguments arguments_;
    size_t count_ = 0;
    uint64_t ram_end_ = 0;
    const char* command_line_ = nullptr;  // null rather than "": a static boot_info then lies in .bss
    const multiboot::info* multiboot_ = nullptr;
    const pvh::start_info* pvh_ = nullptr;
    protocol protocol_ = protocol::unknown;
    bool truncated_ = false;
    bool from_map_ = false;
};

}  // namespace hyperbios::boot

#endif
