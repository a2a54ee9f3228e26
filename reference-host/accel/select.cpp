#include "accel/select.hpp"

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
        throw error(exit_status::usage,
                    "--accel kvm: this build of hbvm has no KVM back end yet; use --accel soft or --accel auto");
    case accelerator_kind::automatic:
        break;
    }
    return {accelerator_kind::soft, "software engine (Unicorn): this build has no KVM back end yet"};
}

std::unique_ptr<accelerator> create_accelerator(accelerator_kind kind, guest_memory& memory)
{
    switch (kind) {
    case accelerator_kind::soft: return std::make_unique<soft_accelerator>(memory);
    default: throw error(exit_status::host_failure, "internal error: no accelerator of the requested kind");
    }
}

}  // namespace hbvm
