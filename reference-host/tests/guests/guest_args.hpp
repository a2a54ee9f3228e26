// The kernel command line of a test guest ("IMAGE [ARGUMENTS...]", from hbvm run
// IMAGE -- ARGUMENTS), for guests whose behaviour a test chooses.
#ifndef HBVM_TEST_GUEST_ARGS_HPP
#define HBVM_TEST_GUEST_ARGS_HPP

#include <hyperbios/boot/multiboot_info.hpp>
#include <stdint.h>

namespace test_guest {

// The first kernel argument as a decimal number, or `fallback` when there is none.
inline uint64_t first_number_argument(uint32_t magic, uint32_t info_address, uint64_t fallback)
{
    namespace mb = hyperbios::multiboot;
    if (magic != mb::loader_magic)
        return fallback;
    const auto* info = reinterpret_cast<const mb::info*>(uintptr_t(info_address));
    if (!(info->flags & mb::info_cmdline))
        return fallback;
    const char* p = reinterpret_cast<const char*>(uintptr_t(info->cmdline));
    while (*p && *p != ' ')  // the image path
        ++p;
    while (*p == ' ')
        ++p;
    if (*p < '0' || *p > '9')
        return fallback;
    uint64_t value = 0;
    while (*p >= '0' && *p <= '9')
        value = value * 10 + uint64_t(*p++ - '0');
    return value;
}

}  // namespace test_guest

#endif
