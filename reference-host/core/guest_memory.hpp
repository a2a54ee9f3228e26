// Guest RAM with checked access. Every guest-supplied address and length passes
// through here before the host touches memory.
#ifndef HBVM_CORE_GUEST_MEMORY_HPP
#define HBVM_CORE_GUEST_MEMORY_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace hbvm {

// A guest-physical address: never a host pointer.
struct guest_address {
    uint64_t value;
    friend constexpr bool operator==(guest_address, guest_address) = default;
};

// Where guest RAM lies: a PC's layout (QEMU's pc machine does the same). RAM runs
// from 0 up to at most 3 GiB; from there to 4 GiB is a hole with no RAM, where a
// PC has its 32-bit device windows and hbvm keeps the pages of its own that must
// lie outside RAM (KVM's TSS and identity-map page, the software engine's
// identity tables: accel/kvm.cpp, accel/soft.cpp); the rest of RAM starts at
// 4 GiB. A machine of up to 3 GiB has one range, [0, size).
namespace ram_layout {
inline constexpr uint64_t hole_start = 3ull << 30;      // low RAM ends here at the most
inline constexpr uint64_t high_start = 4ull << 30;      // where RAM above the hole begins
inline constexpr uint64_t min_size = 2ull << 20;        // hbvm's --mem: from 2 MiB...
inline constexpr uint64_t max_size = 64ull << 30;       // ...to 64 GiB, a multiple of 4 KiB
constexpr uint64_t low_size(uint64_t ram) { return std::min(ram, hole_start); }
constexpr uint64_t high_size(uint64_t ram) { return ram - low_size(ram); }
// One past the highest byte of RAM.
constexpr uint64_t end(uint64_t ram) { return high_size(ram) ? high_start + high_size(ram) : ram; }
}  // namespace ram_layout

// One contiguous range of guest RAM and where the host keeps it.
struct ram_range {
    uint64_t base;    // guest-physical
    uint64_t length;  // bytes, a multiple of 4 KiB, never 0
    std::byte* host;  // the host's mapping of its first byte
};

class guest_memory {
public:
    // Reserves `size` bytes (a multiple of 4 KiB), zero-filled, laid out as
    // ram_layout says. Only address space is reserved (MAP_NORESERVE): a page
    // costs host memory when the guest first touches it. A host that refuses the
    // reservation gives hbvm::error (host_failure, exit status 74).
    explicit guest_memory(uint64_t size);
    ~guest_memory();
    guest_memory(const guest_memory&) = delete;
    guest_memory& operator=(const guest_memory&) = delete;

    // Bytes of RAM, in all ranges.
    uint64_t size() const noexcept { return size_; }
    // One past the highest guest-physical byte of RAM.
    uint64_t end() const noexcept { return ram_layout::end(size_); }

    // The ranges of RAM, sorted by address: one, or two around the hole.
    std::span<const ram_range> ranges() const noexcept { return {ranges_, count_}; }

    // True when [address, address + length) lies inside one range of RAM; a
    // range reaching into the hole or past the end is not. Overflow-safe.
    bool contains(guest_address address, uint64_t length) const noexcept { return find(address, length) != nullptr; }

    // Views of guest RAM; std::nullopt when the range is not entirely inside RAM.
    std::optional<std::span<const std::byte>> read(guest_address address, uint64_t length) const noexcept;
    std::optional<std::span<std::byte>> write(guest_address address, uint64_t length) noexcept;

    // Copies host bytes into guest RAM; false (nothing written) when out of range.
    bool copy_in(guest_address address, std::span<const std::byte> bytes) noexcept;

    // RAM for messages: "128 MiB", or "8192 MiB: below 0xc0000000 and from
    // 0x100000000 to 0x240000000" when it lies around the hole.
    std::string describe() const;

    // Returns all of RAM to zero (used on reboot).
    void clear() noexcept;

    // The host's mapping of guest-physical 0, where low RAM starts (RAM above
    // the hole follows it there); accelerators take ranges() instead.
    std::byte* host_base() noexcept { return base_; }

private:
    // The host address of `address`, when [address, address + length) is in RAM.
    std::byte* find(guest_address address, uint64_t length) const noexcept
    {
        for (size_t i = 0; i < count_; ++i) {
            const ram_range& r = ranges_[i];
            if (address.value >= r.base && length <= r.length && address.value - r.base <= r.length - length)
                return r.host + (address.value - r.base);
        }
        return nullptr;
    }

    std::byte* base_ = nullptr;
    uint64_t size_ = 0;
    ram_range ranges_[2] = {};
    size_t count_ = 0;
};

}  // namespace hbvm

#endif
