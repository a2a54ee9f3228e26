// Small formatting helpers for host diagnostics.
#ifndef HBVM_CORE_TEXT_HPP
#define HBVM_CORE_TEXT_HPP

#include <cstdint>
#include <sstream>
#include <string>

namespace hbvm {

// "0x1f": how the host prints addresses and values in messages.
inline std::string hex(uint64_t value)
{
    std::ostringstream s;
    s << "0x" << std::hex << value;
    return s.str();
}

}  // namespace hbvm

#endif
