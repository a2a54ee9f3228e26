#include "accel/select.hpp"

#include "accel/calibration.hpp"
#include "accel/kvm.hpp"
#include "accel/soft.hpp"
#include "core/error.hpp"

namespace hbvm {

std::optional<accelerator_kind> parse_accelerator_kind(std::string_view name)
{
    if (name == "auto")
        return accelerator_kind::automatic;
    if (name == "soft")
        return accelerator_kind::soft;
    if (name == "kvm")
        return accelerator_kind::kvm;
    return std::nullopt;
}

accelerator_selection select_accelerator(accelerator_kind requested)
{
    switch (requested) {
    case accelerator_kind::soft:
        return {accelerator_kind::soft, "software engine (Unicorn), as requested with --accel soft"};
    case accelerator_kind::kvm:
        if (const std::string why = kvm_accelerator::unusable_reason(); !why.empty())
            throw error(exit_status::host_failure,
                        "--accel kvm: " + why + "; use --accel soft (or auto) to run on the software engine");
        return {accelerator_kind::kvm, "KVM, as requested with --accel kvm"};
    case accelerator_kind::automatic:
        break;
    }
    if (const std::string why = kvm_accelerator::unusable_reason(); !why.empty())
        return {accelerator_kind::soft, "software engine (Unicorn), because " + why};
    // /dev/kvm can be used; whether it is the faster engine is measured.
    return choose_by_speed(calibrate_accelerators());
}

std::unique_ptr<accelerator> create_accelerator(accelerator_kind kind, guest_memory& memory)
{
    switch (kind) {
    case accelerator_kind::soft: return std::make_unique<soft_accelerator>(memory);
    case accelerator_kind::kvm: return std::make_unique<kvm_accelerator>(memory);
    default: throw error(exit_status::host_failure, "internal error: no accelerator of the requested kind");
    }
}

}  // namespace hbvm
