// The x86 page walk, done by the host on the guest's page tables in guest RAM:
// for a back end that must know where a guest virtual address lands (the
// software engine's code cache, exception delivery through a guest's IDT).
// Read-only: it sets no accessed or dirty bits.
#ifndef HBVM_ACCEL_PAGE_WALK_HPP
#define HBVM_ACCEL_PAGE_WALK_HPP

#include "core/guest_memory.hpp"

#include <cstdint>
#include <optional>

namespace hbvm {

// The control registers that decide how a linear address is translated (and
// CR2, the last page-fault address, for reports).
struct paging_state {
    uint64_t cr0, cr3, cr4, efer;
    uint64_t cr2 = 0;
};

struct page_walk_result {
    bool present;         // every level was present: `physical` is valid
    uint64_t physical;    // the physical address (present only)
    bool writable;        // every level allows writes
    bool user;            // every level allows user-mode access
};

// Translates `linear` as the CPU would with `state`: paging off, 32-bit paging
// (4 KiB and, with CR4.PSE, 4 MiB pages), PAE, and 4-level long mode (2 MiB and
// 1 GiB pages). A page-table entry outside guest RAM counts as not present.
page_walk_result walk_page_tables(const guest_memory& memory, const paging_state& state, uint64_t linear);

}  // namespace hbvm

#endif
