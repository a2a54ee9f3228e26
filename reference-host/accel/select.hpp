// Choosing and creating an accelerator.
#ifndef HBVM_ACCEL_SELECT_HPP
#define HBVM_ACCEL_SELECT_HPP

#include "accel/accelerator.hpp"
#include "core/guest_memory.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace hbvm {

enum class accelerator_kind { automatic, soft, kvm };

std::optional<accelerator_kind> parse_accelerator_kind(std::string_view name);

struct accelerator_selection {
    accelerator_kind kind;  // soft or kvm, never automatic
    std::string reason;     // one line: why this one
};

// Resolves `automatic`; throws hbvm::error when the requested back end cannot run here.
accelerator_selection select_accelerator(accelerator_kind requested);

// A fresh accelerator of the selected kind over `memory` (one per boot).
std::unique_ptr<accelerator> create_accelerator(accelerator_kind kind, guest_memory& memory);

}  // namespace hbvm

#endif
