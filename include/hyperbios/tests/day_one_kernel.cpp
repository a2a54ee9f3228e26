// A kernel that uses what the guest library gives on day one and prints what it
// sees, for test_kernels.py to compare: printf, the kernel's arguments (word by
// word and joined), the memory map, two __thread variables. Its last argument
// `then=...` says how to end: exit (POWER.shutdown(0), or the emulator's exit),
// panic, assert, check.
#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/hyperbios.hpp>

namespace hb = hyperbios;

namespace {

hb::boot::boot_info boot;

// One with an initial value (in .tdata, which the Multiboot header must load),
// one without (in .tbss): the boot stub must give each its own place.
__thread uint64_t tls_initialised = 0x5eed0123456789abull;
__thread uint64_t tls_zeroed;

// No strcmp: a freestanding kernel has no C library (and -fno-builtin may turn
// __builtin_strcmp into a call to it).
bool same(const char* a, const char* b)
{
    while (*a && *a == *b)
        ++a, ++b;
    return *a == *b;
}

[[noreturn]] void end_run(uint8_t code)
{
    (void)hb::power::shutdown(code);
    hb::fallback::power_off_emulator(code);
}

void print_formats()
{
    hb::printf("format: [%d] [%i] [%u] [%x] [%X] [%c] [%s] [%%]\n", -42, 17, 4000000000u, 0xbeefu, 0xbeefu, 'k',
               "text");
    hb::printf("format: [%8d] [%-8d] [%08d] [%.3s] [%-6s] [%6s]\n", 123, 123, -123, "abcdef", "ab", "ab");
    hb::printf("format: [%ld] [%llu] [%zu] [%#llx] [%p] [%p]\n", -9000000000L, 18446744073709551615ull,
               sizeof(hb::memory_region), 0xfedcba9876543210ull, reinterpret_cast<void*>(0x100000),
               static_cast<void*>(nullptr));
    char small[8];
    const size_t needed = hb::snprintf(small, sizeof small, "%s", "truncated text");
    hb::printf("format: snprintf kept [%s] needed %zu\n", small, needed);
    // Longer than printf's 256-byte chunk: must arrive whole.
    hb::printf("format: long [%300s]\n", "end");
}

void print_arguments()
{
    const hb::boot::kernel_arguments& arguments = boot.arguments();
    hb::printf("arguments: image path [%s]\n", boot.image_path());
    hb::printf("arguments: text [%s]\n", arguments.text());
    char joined[64];
    const size_t joined_length = arguments.joined(joined, sizeof joined);
    hb::printf("arguments: joined [%s]%s\n", joined, joined_length >= sizeof joined ? " (cut)" : "");
    hb::printf("arguments: count %zu\n", arguments.size());
    size_t index = 0;
    for (const char* argument : arguments)
        hb::printf("arguments: %zu [%s]\n", index++, argument);
    const char* value = arguments.value("key");
    hb::printf("arguments: value of key [%s]\n", value ? value : "(none)");
    hb::printf("arguments: contains flag %s\n", arguments.contains("flag") ? "yes" : "no");
}

void print_memory_map()
{
    hb::printf("memory: %zu regions, ram end %#llx\n", boot.memory_map().size(),
               static_cast<unsigned long long>(boot.ram_end()));
    for (const hb::memory_region& r : boot.memory_map())
        hb::printf("memory: base 0x%016llx length 0x%016llx type %u\n", static_cast<unsigned long long>(r.base),
                   static_cast<unsigned long long>(r.length), r.type);
}

void print_thread_locals()
{
    uint64_t self;
    asm volatile("mov %%fs:0, %0" : "=r"(self));
    hb::printf("tls: initialised %#llx zeroed %#llx\n", static_cast<unsigned long long>(tls_initialised),
               static_cast<unsigned long long>(tls_zeroed));
    tls_zeroed = 7;
    hb::printf("tls: after a write to zeroed: initialised %#llx zeroed %#llx\n",
               static_cast<unsigned long long>(tls_initialised), static_cast<unsigned long long>(tls_zeroed));
    const uint64_t a = reinterpret_cast<uint64_t>(&tls_initialised), b = reinterpret_cast<uint64_t>(&tls_zeroed);
    hb::printf("tls: distinct %s, below the thread pointer %s\n", a != b ? "yes" : "no",
               a < self && b < self && self - a <= 64 && self - b <= 64 ? "yes" : "no");
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    boot.read(magic, info);
    hb::printf("day-one: host %s\n", hb::present() ? "HyperBIOS" : "none");
    print_formats();
    print_arguments();
    print_memory_map();
    print_thread_locals();

    const char* then = boot.arguments().value("then");
    if (!then || same(then, "exit")) {
        hb::print("day-one: done\n");
        end_run(hb::present() ? 0 : 3);  // QEMU: status (3 << 1) | 1 = 7
    }
    if (same(then, "panic"))
        HYPERBIOS_PANIC("stopped on request with %d %s", 3, "reasons");
    if (same(then, "assert"))
        HYPERBIOS_ASSERT(boot.arguments().size() == 0);
    if (same(then, "check"))
        hb::check(boot.memory_map().empty(), "the memory map is empty");
    hb::panic("unknown then=%s", then);
}
