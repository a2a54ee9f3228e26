// POWER service: ending or restarting the machine.
#ifndef HYPERBIOS_POWER_HPP
#define HYPERBIOS_POWER_HPP

#include <hyperbios/call.hpp>

namespace hyperbios::power {

// Powers the machine off; the host reports `exit_code` to whoever started it.
// Returns only on failure, with the status explaining why.
inline result<void> shutdown(uint8_t exit_code) noexcept
{
    return detail::call<abi::function::power_shutdown>(exit_code);
}

// Resets the machine and boots the same image again. Returns only on failure.
inline result<void> reboot() noexcept { return detail::call<abi::function::power_reboot>(); }

// Why this boot happened: a value of abi::reset_reason (power_on, guest_reboot,
// host_reset); treat a value you do not know as a reset of unknown cause.
inline result<uint64_t> reset_reason() noexcept { return detail::call<abi::function::power_reset_reason>(); }

}  // namespace hyperbios::power

#endif
