// Guest RAM with checked access. Every guest-supplied address and length passes
// through here before the host touches memory.
#ifndef HBVM_CORE_GUEST_MEMORY_HPP
#define HBVM_CORE_GUEST_MEMORY_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace hbvm {

// A guest-physical address: never a host pointer.
struct guest_address {
    uint64_t value;
    friend constexpr bool operator==(guest_address, guest_address) = default;
};

class guest_memory {
public:
    // Reserves `size` bytes (a multiple of 4 KiB), zero-filled.
    explicit guest_memory(uint64_t size);
    ~guest_memory();
    guest_memory(const guest_memory&) = delete;
    guest_memory& operator=(const guest_memory&) = delete;

    uint64_t size() const noexcept { return size_; }

    // True when [address, address + length) lies inside RAM; overflow-safe.
    bool contains(guest_address address, uint64_t length) const noexcept
    {
        return length <= size_ && address.value <= size_ - length;
    }

    // Views of guest RAM; std::nullopt when the range is not entirely inside RAM.
    std::optional<std::span<const std::byte>> read(guest_address address, uint64_t length) const noexcept;
    std::optional<std::span<std::byte>> write(guest_address address, uint64_t length) noexcept;

    // Copies host bytes into guest RAM; false (nothing written) when out of range.
    bool copy_in(guest_address address, std::span<const std::byte> bytes) noexcept;

    // Returns all of RAM to zero (used on reboot).
    void clear() noexcept;

    // For accelerators only: the host mapping they hand to the CPU engine.
    std::byte* host_base() noexcept { return base_; }

private:
    std::byte* base_ = nullptr;
    uint64_t size_ = 0;
};

}  // namespace hbvm

#endif
