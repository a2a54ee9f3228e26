// Instantiates the kernel helpers beside the wrappers -- the formatter, printf,
// panic and assertions, the memory map and argument views -- so that the
// freestanding check sees their code too. Compiled, never run.
#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/hyperbios.hpp>

namespace hb = hyperbios;

extern "C" uint64_t hyperbios_uses_kernel_helpers(char* buffer, size_t size, const hb::boot::boot_info& boot)
{
    uint64_t sum = hb::snprintf(buffer, size, "%s %c %d %i %u %x %X %p %% %ld %lld %zu %-8.3s|%08x", "text", 'c',
                                -1, 2, 3u, 4u, 5u, static_cast<void*>(buffer), -6L, -7LL, size, "abcdef", 8u);
    sum += hb::printf("%zu regions, arguments \"%s\"\n", boot.memory_map().size(), boot.arguments().text());
    for (const hb::memory_region& r : boot.memory_map())
        sum += r.base + r.length + r.type + r.is_usable();
    for (const char* argument : boot.arguments())
        sum += uint8_t(*argument);
    if (const char* seed = boot.arguments().value("seed"))
        sum += uint8_t(*seed) + boot.arguments().contains("verbose");
    sum += boot.arguments().joined(buffer, size);
    hb::print(boot.image_path());
    hb::check(sum != 1, "sum is not 1");
    HYPERBIOS_ASSERT(sum != 2);
    if (sum == 3)
        HYPERBIOS_PANIC("sum is %llu", static_cast<unsigned long long>(sum));
    if (sum == 4)
        hb::panic("sum is %d", 4);
    return sum;
}
