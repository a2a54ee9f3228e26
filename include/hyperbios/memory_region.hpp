// One entry of a physical memory map, and a range-for view over an array of
// them: what the boot protocols' maps (boot/boot_info.hpp) are read into, laid
// out so that a map the host writes into a guest buffer in the same shape can be
// iterated with the same types. Not part of the ABI by itself.
#ifndef HYPERBIOS_MEMORY_REGION_HPP
#define HYPERBIOS_MEMORY_REGION_HPP

#include <stddef.h>
#include <stdint.h>

namespace hyperbios {

// Region types: E820's numbering, which Multiboot and PVH both use.
namespace memory_type {
inline constexpr uint32_t usable = 1;    // RAM the kernel may use
inline constexpr uint32_t reserved = 2;  // not RAM, or RAM that must not be touched
inline constexpr uint32_t acpi_reclaimable = 3;
inline constexpr uint32_t acpi_nvs = 4;
inline constexpr uint32_t unusable = 5;  // RAM reported as faulty
}  // namespace memory_type

// 24 bytes: base, length, type, then 4 bytes of padding that are zero when the
// library writes an entry (static_asserts below pin the layout).
struct memory_region {
    uint64_t base = 0;
    uint64_t length = 0;
    uint32_t type = 0;

    // One past the last byte (saturates at 2^64 - 1 for a region that would wrap).
    constexpr uint64_t end() const noexcept { return base + length < base ? ~0ull : base + length; }
    constexpr bool is_usable() const noexcept { return type == memory_type::usable; }
};
static_assert(sizeof(memory_region) == 24 && alignof(memory_region) == 8);
static_assert(offsetof(memory_region, base) == 0 && offsetof(memory_region, length) == 8 &&
              offsetof(memory_region, type) == 16);

// `count` regions from `first`, for range-for and indexing; the regions stay
// where they are (a kernel's copy, or a buffer the host filled).
struct memory_region_list {
    const memory_region* first = nullptr;
    size_t count = 0;

    constexpr const memory_region* begin() const noexcept { return first; }
    constexpr const memory_region* end() const noexcept { return first + count; }
    constexpr size_t size() const noexcept { return count; }
    constexpr bool empty() const noexcept { return count == 0; }
    constexpr const memory_region& operator[](size_t i) const noexcept { return first[i]; }
};

}  // namespace hyperbios

#endif
