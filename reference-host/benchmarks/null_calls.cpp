// Benchmark guest: N null HyperBIOS calls (BASE.get_spec_version) timed with the
// host's monotonic clock; N comes from the kernel command line ("IMAGE N").
// Prints "null-calls N ns-per-call X" on the console, then shuts down.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;

namespace {

uint64_t count_from_cmdline(uint32_t magic, uint32_t info_address)
{
    uint64_t n = 10000;
    if (magic != hb::multiboot::loader_magic)
        return n;
    const auto* info = reinterpret_cast<const hb::multiboot::info*>(uint64_t(info_address));
    if (!(info->flags & hb::multiboot::info_cmdline))
        return n;
    const char* s = reinterpret_cast<const char*>(uint64_t(info->cmdline));
    while (*s && *s != ' ')  // skip the image name
        ++s;
    while (*s == ' ')
        ++s;
    uint64_t parsed = 0;
    for (; *s >= '0' && *s <= '9'; ++s)
        parsed = parsed * 10 + uint64_t(*s - '0');
    return parsed ? parsed : n;
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    const uint64_t n = count_from_cmdline(magic, info);
    if (!hb::present())
        hb::fallback::power_off_emulator(2);
    const uint64_t start = hb::time::monotonic_ns().value;
    uint64_t failures = 0;
    for (uint64_t i = 0; i < n; ++i)
        failures += !hb::base::spec_version().ok();
    const uint64_t end = hb::time::monotonic_ns().value;
    hb::text::line<128> out;
    out.put("null-calls ").dec(n).put(" total-ns ").dec(end - start).put(" failures ").dec(failures).put('\n');
    (void)hb::console::write(out.c_str());
    (void)hb::power::shutdown(failures ? 1 : 0);
}
