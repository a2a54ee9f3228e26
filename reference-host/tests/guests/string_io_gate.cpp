// String I/O on the gate port (spec 2.2, HB-CALL-009): REP OUTSD, OUTSD and
// REP INSD naming the gate port. Prints the registers each leaves behind; every
// accelerator must print the same lines.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>

namespace {

namespace hb = hyperbios;

struct after {
    uint64_t rax, rdx, rcx, rsi, rdi;
};

void put_hex(uint64_t v)
{
    char text[19] = "0x";
    for (int i = 0; i < 16; ++i)
        text[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xF];
    text[18] = 0;
    hb::fallback::debugcon_write(text);
}

void report(const char* what, const after& a, const uint32_t* buffer)
{
    hb::fallback::debugcon_write(what);
    hb::fallback::debugcon_write(": rax=");
    put_hex(a.rax);
    hb::fallback::debugcon_write(" rdx=");
    put_hex(a.rdx);
    hb::fallback::debugcon_write(" rcx=");
    put_hex(a.rcx);
    hb::fallback::debugcon_write(" rsi-start=");
    put_hex(a.rsi - uint64_t(buffer));
    hb::fallback::debugcon_write(" rdi-start=");
    put_hex(a.rdi - uint64_t(buffer));
    hb::fallback::debugcon_write(" buffer=");
    for (int i = 0; i < 4; ++i) {
        put_hex(buffer[i]);
        hb::fallback::debugcon_write(i < 3 ? "," : "\n");
    }
}

uint32_t words[4];

}  // namespace

extern "C" void kernel_main(uint32_t, uint32_t)
{
    const uint16_t port = hb::detect().port;
    const uint64_t call = uint64_t(hb::abi::function::base_get_spec_version);

    // Elements that differ from EAX: not calls; only RSI and RCX change. EAX holds
    // TIME.monotonic_ns, which would replace RAX and RDX if it were served.
    const uint64_t clock_call = uint64_t(hb::abi::function::time_monotonic_ns);
    for (uint32_t i = 0; i < 4; ++i)
        words[i] = 0xC0DE0000u + i;
    after a{clock_call, port, 3, uint64_t(words), uint64_t(words)};
    asm volatile("cld; rep outsl" : "+a"(a.rax), "+d"(a.rdx), "+c"(a.rcx), "+S"(a.rsi) : : "memory");
    report("rep outsd, elements not EAX", a, words);

    a = {clock_call, port, 0x77, uint64_t(words), uint64_t(words)};
    asm volatile("cld; outsl" : "+a"(a.rax), "+d"(a.rdx), "+c"(a.rcx), "+S"(a.rsi) : : "memory");
    report("outsd, element not EAX", a, words);

    // Elements equal to EAX: each is served as a call (BASE.get_spec_version, which
    // uses no argument); the first replaces RDX with the version, 2 (spec 0.2),
    // so the others go to port 2.
    for (uint32_t& w : words)
        w = uint32_t(call);
    a = {call, port, 3, uint64_t(words), uint64_t(words)};
    asm volatile("cld; rep outsl" : "+a"(a.rax), "+d"(a.rdx), "+c"(a.rcx), "+S"(a.rsi) : : "memory");
    report("rep outsd, elements equal to EAX", a, words);

    // Reads of the gate port are not calls: all ones, registers untouched.
    a = {clock_call, port, 2, uint64_t(words), uint64_t(words)};
    asm volatile("cld; rep insl" : "+a"(a.rax), "+d"(a.rdx), "+c"(a.rcx), "+D"(a.rdi) : : "memory");
    report("rep insd", a, words);

    hb::fallback::power_off_emulator(0x21);
}
