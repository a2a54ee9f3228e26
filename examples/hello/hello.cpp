// hello: the first kernel a HyperBIOS user writes. It greets through CONSOLE,
// names its host, reads both clocks and shuts down with code 0. Without a
// HyperBIOS host (QEMU, Bochs) it says so on the 0xE9 debug port and ends the run.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;

namespace {

// Exit code on emulators without HyperBIOS; QEMU turns it into status (2 << 1) | 1 = 5.
constexpr uint8_t no_host_exit_code = 2;

void say(const char* text) { (void)hb::console::write(text); }

}  // namespace

extern "C" void kernel_main(uint32_t, uint32_t)
{
    const hb::host_info& host = hb::detect();
    if (!host.present) {
        hb::fallback::debugcon_write(host.hypervisor_bit
                                         ? "hello: no HyperBIOS host present (a hypervisor, but no HyperBIOS "
                                           "interface in CPUID 0x40000000-0x4000FF00); ending the run\n"
                                         : "hello: no HyperBIOS host present (CPUID.1:ECX[31] is clear); ending "
                                           "the run\n");
        hb::fallback::power_off_emulator(no_host_exit_code);
    }

    say("Hello from a HyperBIOS guest!\n");

    char name[96];
    hb::text::line<160> out;
    if (hb::base::impl_name(name, sizeof name))
        out.put("Host: ").put(name);
    else
        out.put("Host: (name unavailable)");
    out.put(", vendor \"").put(host.vendor).put("\", spec ");
    out.dec(hb::abi::version_major(host.interface_version)).put('.').dec(hb::abi::version_minor(host.interface_version));
    say(out.put('\n').c_str());

    out.clear();
    if (auto wall = hb::time::wallclock_ns())
        out.put("Wall clock: ").utc(wall.value);
    else
        out.put("Wall clock: unavailable (").put(hb::abi::status_name(wall.code)).put(')');
    say(out.put('\n').c_str());

    out.clear();
    auto mono = hb::time::monotonic_ns();
    auto resolution = hb::time::resolution_ns();
    if (mono && resolution)
        out.put("Monotonic clock: ").dec(mono.value).put(" ns (resolution ").dec(resolution.value).put(" ns)");
    else
        out.put("Monotonic clock: unavailable");
    say(out.put('\n').c_str());

    say("Goodbye.\n");
    auto r = hb::power::shutdown(0);
    out.clear();
    out.put("hello: POWER.shutdown failed: ").put(hb::abi::status_name(r.code)).put('\n');
    hb::fallback::debugcon_write(out.c_str());
    hb::fallback::power_off_emulator(1);
}
