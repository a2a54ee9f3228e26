// Registration of the services. One file per service, each with the same shape:
// a register_<service>_service() that adds one handler per function of the ABI table.
#ifndef HBVM_SERVICES_SERVICES_HPP
#define HBVM_SERVICES_SERVICES_HPP

#include "core/dispatcher.hpp"

#include <cstdint>
#include <string>

namespace hbvm {

class terminal;
class clock_source;

struct implementation_identity {
    uint64_t id;       // BASE.get_impl_id
    uint64_t version;  // BASE.get_impl_version: (major << 32) | (minor << 16) | patch
    std::string name;  // BASE.get_impl_name
};

void register_base_service(dispatcher& d, const implementation_identity& identity);
void register_console_service(dispatcher& d, terminal& term);
void register_time_service(dispatcher& d, const clock_source& clock);
// Why the current boot happened (POWER.reset_reason); the machine updates it on reboot.
struct power_state {
    uint64_t reset_reason = hyperbios::abi::reset_power_on;
};

void register_power_service(dispatcher& d, const power_state& state);

}  // namespace hbvm

#endif
