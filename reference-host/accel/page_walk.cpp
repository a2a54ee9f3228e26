#include "accel/page_walk.hpp"

#include <cstring>

namespace hbvm {

namespace {

constexpr uint64_t cr0_pg = 1ull << 31;
constexpr uint64_t cr4_pse = 1ull << 4, cr4_pae = 1ull << 5;
constexpr uint64_t efer_lma = 1ull << 10;
constexpr uint64_t pte_present = 1, pte_writable = 2, pte_user = 4, pte_large = 0x80;

template <typename T>
std::optional<T> read_entry(const guest_memory& memory, uint64_t address)
{
    const auto bytes = memory.read(guest_address{address}, sizeof(T));
    if (!bytes)
        return std::nullopt;
    T value;
    std::memcpy(&value, bytes->data(), sizeof value);
    return value;
}

}  // namespace

page_walk_result walk_page_tables(const guest_memory& memory, const paging_state& state, uint64_t linear)
{
    if (!(state.cr0 & cr0_pg))
        return {true, linear & 0xFFFFFFFFull, true, true};
    page_walk_result r{false, 0, true, true};
    auto apply = [&r](uint64_t entry) {
        r.writable = r.writable && (entry & pte_writable);
        r.user = r.user && (entry & pte_user);
    };

    if (!(state.cr4 & cr4_pae)) {  // 32-bit paging: two levels of 4-byte entries
        const uint32_t va = uint32_t(linear);
        const auto pde = read_entry<uint32_t>(memory, (state.cr3 & 0xFFFFF000u) + ((va >> 22) & 0x3FF) * 4);
        if (!pde || !(*pde & pte_present))
            return r;
        apply(*pde);
        if ((*pde & pte_large) && (state.cr4 & cr4_pse))
            return {true, (*pde & 0xFFC00000u) | (va & 0x3FFFFF), r.writable, r.user};
        const auto pte = read_entry<uint32_t>(memory, (*pde & 0xFFFFF000u) + ((va >> 12) & 0x3FF) * 4);
        if (!pte || !(*pte & pte_present))
            return r;
        apply(*pte);
        return {true, (*pte & 0xFFFFF000u) | (va & 0xFFF), r.writable, r.user};
    }

    constexpr uint64_t address_bits = 0x000FFFFFFFFFF000ull;
    const bool long_mode = state.efer & efer_lma;
    uint64_t table;
    int level;  // 4: PML4, 3: PDPT, 2: PD, 1: PT
    if (long_mode) {
        table = state.cr3 & address_bits;
        level = 4;
    } else {  // PAE: four PDPTEs at CR3 (32-byte aligned), then PD and PT
        const auto pdpte = read_entry<uint64_t>(memory, (state.cr3 & 0xFFFFFFE0u) + ((linear >> 30) & 3) * 8);
        if (!pdpte || !(*pdpte & pte_present))
            return r;
        table = *pdpte & address_bits;
        level = 2;
    }
    for (; level >= 1; --level) {
        const int shift = 12 + 9 * (level - 1);
        const auto entry = read_entry<uint64_t>(memory, table + ((linear >> shift) & 0x1FF) * 8);
        if (!entry || !(*entry & pte_present))
            return r;
        apply(*entry);
        if (level == 1 || ((level == 2 || (level == 3 && long_mode)) && (*entry & pte_large))) {
            const uint64_t page_mask = (1ull << shift) - 1;
            return {true, (*entry & address_bits & ~page_mask) | (linear & page_mask), r.writable, r.user};
        }
        table = *entry & address_bits;
    }
    return r;
}

}  // namespace hbvm
