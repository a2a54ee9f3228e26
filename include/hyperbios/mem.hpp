// MEM service: the guest-physical memory map (spec chapter 10).
#ifndef HYPERBIOS_MEM_HPP
#define HYPERBIOS_MEM_HPP

#include <hyperbios/call.hpp>
#include <hyperbios/memory_region.hpp>

namespace hyperbios::mem {

// The library's one entry type for memory maps: the boot protocols' maps and
// this service's are iterated as hyperbios::memory_region (the ABI's mem_region
// has the same layout, pinned here; its reserved field is the padding).
using region = memory_region;
static_assert(sizeof(abi::mem_region) == sizeof(region) && offsetof(abi::mem_region, base) == offsetof(region, base) &&
              offsetof(abi::mem_region, length) == offsetof(region, length) &&
              offsetof(abi::mem_region, type) == offsetof(region, type));
static_assert(abi::mem_type::usable == memory_type::usable && abi::mem_type::reserved == memory_type::reserved);
using map_header = abi::mem_map_header;

// Writes the start of the map into the buffer, at most `capacity` bytes; the
// value is the size of the whole map, so `get_map(buffer, 0)` sizes a buffer.
inline result<size_t> get_map(gpa buffer, size_t capacity) noexcept
{
    return detail::call<abi::function::mem_get_map>(buffer, capacity);
}

inline result<size_t> get_map(void* buffer, size_t capacity) noexcept
{
    return get_map(gpa{detail::to_gpa(buffer)}, capacity);
}

// The regions of a map that get_map wrote into `bytes` (of which `size` are
// valid), for range-for: entries whose bytes did not all arrive are left out,
// and a later version's longer entries are stepped over by their entry_size.
class regions {
public:
    regions(const void* bytes, size_t size) noexcept
    {
        const auto* p = static_cast<const unsigned char*>(bytes);
        if (size < sizeof(map_header))
            return;
        __builtin_memcpy(&header_, p, sizeof header_);
        if (header_.header_size < sizeof(map_header) || header_.entry_size < sizeof(region))
            return;
        first_ = p + header_.header_size;
        const size_t room = size > header_.header_size ? size - header_.header_size : 0;
        count_ = header_.entry_count;
        if (count_ > room / header_.entry_size)
            count_ = room / header_.entry_size;
    }

    class iterator {
    public:
        iterator(const unsigned char* at, size_t step) noexcept : at_(at), step_(step) {}
        region operator*() const noexcept
        {
            abi::mem_region wire;
            __builtin_memcpy(&wire, at_, sizeof wire);  // entries need not be aligned in the buffer
            return {wire.base, wire.length, wire.type};
        }
        iterator& operator++() noexcept
        {
            at_ += step_;
            return *this;
        }
        bool operator!=(const iterator& other) const noexcept { return at_ != other.at_; }

    private:
        const unsigned char* at_;
        size_t step_;
    };

    iterator begin() const noexcept { return {first_, header_.entry_size}; }
    iterator end() const noexcept { return {first_ + count_ * header_.entry_size, header_.entry_size}; }
    size_t size() const noexcept { return count_; }
    const map_header& header() const noexcept { return header_; }

private:
    map_header header_{};
    const unsigned char* first_ = nullptr;
    size_t count_ = 0;
};

}  // namespace hyperbios::mem

#endif
