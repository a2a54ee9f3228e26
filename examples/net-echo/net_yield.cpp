// net-yield: a Solo5-style event loop over every network interface the
// machine has (Solo5's tests attach 63): the last interface sends one
// broadcast frame, then the kernel sleeps in net::yield — EVT.wait on source
// 35, the ready set of window 0 — and takes the frame each other interface
// received, until all have one or 10 s passed. Run it with the interfaces on
// one segment:
//
//     mkdir -p /tmp/seg && hbvm run net-yield.elf $(for i in $(seq 63); do echo --net socket:/tmp/seg; done)
//
// Prints "net-yield: N of M interfaces received the broadcast in K wake-ups"
// and ends with 0 when all did.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>

namespace hb = hyperbios;
namespace net = hyperbios::net;

namespace {

uint8_t frame[9018];

[[noreturn]] void end(uint8_t code)
{
    (void)hb::power::shutdown(code);
    hb::fallback::power_off_emulator(code);
}

}  // namespace

extern "C" void kernel_main(uint32_t, uint32_t)
{
    const uint64_t n = net::count().value_or(0);
    if (n < 2 || n > 64) {
        hb::printf("net-yield: give the machine 2 to 64 interfaces on one segment (it has %llu)\n",
                   (unsigned long long)n);
        end(2);
    }
    net::info_record sender{};
    (void)net::info(uint16_t(n - 1), sender);
    for (int i = 0; i < 6; ++i)
        frame[i] = 0xFF, frame[6 + i] = sender.mac[i];
    frame[12] = 0x88, frame[13] = 0xB5;  // IEEE 802 local experimental EtherType
    const auto sent = net::send(uint16_t(n - 1), frame, 60);
    if (!sent.ok()) {
        hb::printf("net-yield: the broadcast was not sent (status %d)\n", int(sent.code));
        end(1);
    }
    const uint64_t want = (n == 64 ? ~uint64_t(0) : (uint64_t(1) << n) - 1) & ~(uint64_t(1) << (n - 1));
    uint64_t got = 0, wakeups = 0;
    const uint64_t deadline = hb::time::monotonic_ns().value_or(0) + 10'000'000'000;
    while (got != want) {
        const uint64_t ready = net::yield(deadline, 0).value_or(0);
        if (!ready)
            break;  // the deadline
        ++wakeups;
        for (uint64_t set = ready; set; set &= set - 1) {
            const uint16_t device = uint16_t(__builtin_ctzll(set));
            (void)net::link(device);  // acknowledge a link change, the other reason to be ready
            while (net::recv(device, frame, sizeof frame).value_or(0) != 0)
                got |= uint64_t(1) << device;
        }
    }
    unsigned received = 0;  // no __builtin_popcountll: it calls libgcc's __popcountdi2
    for (uint64_t set = got & want; set; set &= set - 1)
        ++received;
    hb::printf("net-yield: %u of %llu interfaces received the broadcast in %llu wake-ups\n", received,
               (unsigned long long)(n - 1), (unsigned long long)wakeups);
    end(got == want ? 0 : 1);
}
