// Benchmark guest: N null HyperBIOS calls (BASE.get_spec_version) timed with the
// host's monotonic clock; N comes from the kernel command line ("IMAGE N").
//
// Two loops: a register-only loop around the gate instruction, whose guest
// footprint matches the raw OUT loop it is compared with (under nested paging
// every page a guest touches after an exit costs a page walk), and the same
// calls through the typed C++ wrapper, for reference. Prints
// "null-calls-gate N total-ns T failures F" and "null-calls-wrapper ..." lines.
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

// N calls with nothing but registers: call word in RAX, port in DX, OUT, count
// non-zero statuses.
uint64_t gate_loop(uint64_t n, uint16_t port)
{
    uint64_t failures = 0;
    asm volatile("1:\n\t"
                 "mov %[word], %%rax\n\t"
                 "mov %[port], %%dx\n\t"
                 "outl %%eax, %%dx\n\t"
                 "test %%rax, %%rax\n\t"
                 "jz 2f\n\t"
                 "inc %[failures]\n"
                 "2:\n\t"
                 "dec %[n]\n\t"
                 "jnz 1b"
                 : [n] "+r"(n), [failures] "+r"(failures)
                 : [word] "r"(uint64_t(hb::abi::function::base_get_spec_version)), [port] "r"(port)
                 : "rax", "rdx", "memory", "cc");
    return failures;
}

uint64_t wrapper_loop(uint64_t n)
{
    uint64_t failures = 0;
    for (uint64_t i = 0; i < n; ++i)
        failures += !hb::base::spec_version().ok();
    return failures;
}

void report(const char* what, uint64_t n, uint64_t ns, uint64_t failures)
{
    hb::text::line<128> out;
    out.put(what).put(' ').dec(n).put(" total-ns ").dec(ns).put(" failures ").dec(failures).put('\n');
    (void)hb::console::write(out.c_str());
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    const uint64_t n = count_from_cmdline(magic, info);
    if (!hb::present())
        hb::fallback::power_off_emulator(2);
    uint64_t t0 = hb::time::monotonic_ns().value;
    const uint64_t gate_failures = gate_loop(n, hb::detect().port);
    uint64_t t1 = hb::time::monotonic_ns().value;
    report("null-calls-gate", n, t1 - t0, gate_failures);
    t0 = hb::time::monotonic_ns().value;
    const uint64_t wrapper_failures = wrapper_loop(n);
    t1 = hb::time::monotonic_ns().value;
    report("null-calls-wrapper", n, t1 - t0, wrapper_failures);
    (void)hb::power::shutdown(gate_failures || wrapper_failures ? 1 : 0);
}
