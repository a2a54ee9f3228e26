// A kernel that replaces the default exception handler with one call
// (interrupts::set_default_handler) and then takes exceptions on vectors that
// have no handler of their own, for test_kernels.py: #DE, #PF and #GP, from
// which its handler lets it resume; a #UD with a handler of its own, which
// wins; a #UD after set_handler(6, nullptr), which goes back to the kernel's
// default handler; and a last #UD, on which the kernel's handler reports in its
// own words and shuts down with its own exit code, 42. With the argument
// `then=built-in` it first restores the built-in handler
// (set_default_handler(nullptr)), whose report and exit code 70 end the run
// instead. Every faulting instruction is two bytes long, so a handler resumes
// past it with f.rip += 2. (No INT n or INT3: the /dev/kvm of some development
// machines emulates guest code and cannot emulate those.)
#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/hyperbios.hpp>

namespace hb = hyperbios;
namespace hi = hyperbios::interrupts;

namespace {

hb::boot::boot_info boot;
constexpr uint8_t own_exit_code = 42;

// Whether the kernel's default handler lets the kernel go on after a #UD, or
// ends the run.
volatile bool resume_after_invalid_opcode = false;

[[noreturn]] void end_run(uint8_t code)
{
    (void)hb::power::shutdown(code);
    hb::fallback::power_off_emulator(code);
}

void kernel_default_handler(hi::frame& f) noexcept
{
    hb::printf("default-handler: the kernel's handler: vector %llu (%s), error code %#llx\n",
               static_cast<unsigned long long>(f.vector), hi::exception_name(f.vector),
               static_cast<unsigned long long>(f.error_code));
    if (f.vector == 6 && !resume_after_invalid_opcode) {
        hb::printf("default-handler: the kernel's handler shuts down with %u\n", own_exit_code);
        end_run(own_exit_code);
    }
    f.rip += 2;
}

void own_invalid_opcode_handler(hi::frame& f) noexcept
{
    hb::print("default-handler: vector 6's own handler\n");
    f.rip += 2;
}

bool same(const char* a, const char* b)
{
    while (*a && *a == *b)
        ++a, ++b;
    return *a == *b;
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    boot.read(magic, info);
    hi::set_default_handler(kernel_default_handler);
    asm volatile("xor %%edx, %%edx; div %%ecx" ::"c"(0), "a"(1) : "rdx");            // #DE (f7 f1)
    asm volatile("mov (%%rdx), %%eax" ::"d"(8ull) : "rax", "memory");                // #PF: page 0 (8b 02)
    asm volatile("mov (%%rdx), %%eax" ::"d"(0x8000000000000000ull) : "rax", "memory");  // #GP: not canonical
    hi::set_handler(6, own_invalid_opcode_handler);
    asm volatile("ud2");
    hi::set_handler(6, nullptr);  // vector 6 back to the default: now the kernel's
    resume_after_invalid_opcode = true;
    asm volatile("ud2");
    hb::print("default-handler: resumed after each\n");
    resume_after_invalid_opcode = false;
    const char* then = boot.arguments().value("then");
    if (then && same(then, "built-in")) {
        hi::set_default_handler(nullptr);
        hb::print("default-handler: built-in handler restored\n");
    }
    asm volatile("ud2");
    hb::print("default-handler: still running after the last ud2\n");
    end_run(1);
}
