// A kernel linked with its own minimal linker script (foreign.ld), to prove the
// library needs no section a foreign script does not name: the library's state
// (detect()'s cache, the debug channel) and the IDT must lie inside the .bss the
// loader zeroes, detect() must answer the same twice, and printf must work.
// The script has no thread-local storage, which the kernel says with
// HYPERBIOS_BOOT_NO_TLS (without it the link fails on the missing
// __hyperbios_tls_* symbols); the stub then leaves FS's base at 0.
#define HYPERBIOS_BOOT_NO_TLS
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/hyperbios.hpp>

namespace hb = hyperbios;

extern "C" char __bss_start[], __bss_end[];

namespace {

bool in_bss(const void* object, size_t size)
{
    const auto at = reinterpret_cast<uintptr_t>(object);
    return at >= reinterpret_cast<uintptr_t>(__bss_start) && at + size <= reinterpret_cast<uintptr_t>(__bss_end);
}

}  // namespace

extern "C" void kernel_main(uint32_t, uint32_t)
{
    const hb::host_info& first = hb::detect();
    const hb::host_info& again = hb::detect();
    hb::printf("foreign-script: host %s, vendor [%s]\n", first.present ? "HyperBIOS" : "none", first.vendor);
    hb::printf("foreign-script: detect() cached %s\n",
               &first == &again && hb::detail::state.host_probed ? "yes" : "no");
    hb::printf("foreign-script: library state in .bss %s\n",
               in_bss(&hb::detail::state, sizeof hb::detail::state) ? "yes" : "no");
    hb::printf("foreign-script: IDT in .bss %s\n",
               in_bss(hb::interrupts::detail::idt, sizeof hb::interrupts::detail::idt) ? "yes" : "no");
    uint32_t fs_base_low, fs_base_high;
    asm volatile("rdmsr" : "=a"(fs_base_low), "=d"(fs_base_high) : "c"(0xC0000100));  // IA32_FS_BASE
    hb::printf("foreign-script: no TLS set up (FS base %#llx)\n",
               static_cast<unsigned long long>(fs_base_high) << 32 | fs_base_low);
    hb::fallback::debug_write("foreign-script: debug port works\n");
    hb::printf("foreign-script: debug channel chosen %s\n",
               hb::detail::state.debug_channel != hb::fallback::debug_channel::unchosen ? "yes" : "no");
    HYPERBIOS_ASSERT(first.present == hb::present());
    hb::print("foreign-script: done\n");
    (void)hb::power::shutdown(0);
    hb::fallback::power_off_emulator(3);
}
