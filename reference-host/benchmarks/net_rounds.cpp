// bench_net_rounds: the guest side of bench-net. Kernel arguments:
//   ip=A.B.C.D/N        a static address (default: a DHCP lease)
//   mode=flood to=A.B.C.D:PORT count=N size=S
//                       N UDP datagrams of S bytes, as fast as the host takes them
//   mode=rtt to=A.B.C.D:PORT count=N
//                       N round trips of a 64-byte datagram to a UDP echo server
//   mode=frames count=N size=S
//                       N raw Ethernet frames of S bytes to the broadcast address
// and prints one line, timed with TIME.monotonic_ns:
//   flood count N bytes B ns T | rtt count N median-ns M p90-ns P | frames count N bytes B ns T
// then shuts down (exit 0, or 1 when the network failed).
#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/netstack/hyperbios_netstack.h>

namespace hb = hyperbios;

namespace {

hb_netstack stack;
hb::boot::boot_info boot;
uint8_t payload[HB_NETSTACK_MAX_FRAME];
uint64_t samples[20000];
volatile bool answered;

uint64_t now() { return hb::time::monotonic_ns().value_or(0); }

[[noreturn]] void end(uint8_t code)
{
    (void)hb::power::shutdown(code);
    for (;;)
        asm volatile("hlt");
}

uint64_t number(const char* text, uint64_t fallback)
{
    if (!text)
        return fallback;
    uint64_t n = 0;
    for (; *text >= '0' && *text <= '9'; ++text)
        n = n * 10 + uint64_t(*text - '0');
    return n;
}

uint32_t address(const char* text, uint16_t* port, uint32_t* prefix)
{
    uint32_t ip = 0;
    for (int part = 0; part < 4 && text; ++part) {
        uint32_t n = 0;
        for (; *text >= '0' && *text <= '9'; ++text)
            n = n * 10 + uint32_t(*text - '0');
        ip = ip << 8 | n;
        if (part < 3 && *text == '.')
            ++text;
    }
    if (text && *text == ':' && port)
        *port = uint16_t(number(text + 1, 0));
    if (text && *text == '/' && prefix)
        *prefix = uint32_t(number(text + 1, 24));
    return ip;
}

void on_echo(void*, uint32_t, uint16_t, uint16_t, const void*, size_t) { answered = true; }

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    boot.read(magic, info);
    const auto& args = boot.arguments();
    if (hb_netstack_init(&stack, 0) != 0) {
        hb::print("bench_net_rounds: no network interface\n");
        end(1);
    }
    if (const char* ip = args.value("ip")) {
        uint32_t prefix = 24;
        const uint32_t a = address(ip, nullptr, &prefix);
        hb_netstack_set_address(&stack, a, prefix ? ~((uint32_t(1) << (32 - prefix)) - 1) : 0, 0);
    } else if (hb_netstack_dhcp(&stack, 10'000'000'000) != 0) {
        hb::print("bench_net_rounds: no DHCP lease\n");
        end(1);
    }
    const char* mode = args.value("mode");
    const uint64_t count = number(args.value("count"), 1000);
    const size_t size = size_t(number(args.value("size"), 1024));
    uint16_t port = 0;
    const uint32_t to = address(args.value("to"), &port, nullptr);
    for (size_t i = 0; i < sizeof payload; ++i)
        payload[i] = uint8_t(i);
    if (mode && mode[0] == 'f' && mode[1] == 'l') {  // flood
        uint64_t bytes = 0;
        const uint64_t start = now();
        for (uint64_t i = 0; i < count; ++i) {
            const int r = hb_netstack_udp_send(&stack, to, port, 40001, payload, size);
            if (r < 0) {
                hb::printf("bench_net_rounds: send %llu failed (%d)\n", (unsigned long long)i, r);
                end(1);
            }
            bytes += size;
            (void)hb_netstack_poll(&stack);  // answer ARP meanwhile; nothing else comes
        }
        const uint64_t took = now() - start;
        (void)hb_netstack_udp_send(&stack, to, port, 40001, "END", 3);
        hb::printf("flood count %llu bytes %llu ns %llu\n", (unsigned long long)count, (unsigned long long)bytes,
                   (unsigned long long)took);
    } else if (mode && mode[0] == 'r') {  // rtt
        (void)hb_netstack_udp_bind(&stack, 40002, on_echo, nullptr);
        const uint64_t n = count < 20000 ? count : 20000;
        uint64_t done = 0;
        for (uint64_t i = 0; i < n; ++i) {
            answered = false;
            const uint64_t start = now(), deadline = start + 1'000'000'000;
            if (hb_netstack_udp_send(&stack, to, port, 40002, payload, 64) < 0)
                break;
            while (!answered && now() < deadline)
                (void)hb_netstack_wait(&stack, deadline);
            if (!answered)
                break;
            samples[done++] = now() - start;
        }
        if (done < n) {
            hb::printf("bench_net_rounds: round trip %llu of %llu got no answer\n", (unsigned long long)done,
                       (unsigned long long)n);
            end(1);
        }
        // An insertion sort: a few thousand samples, once.
        for (uint64_t i = 1; i < done; ++i)
            for (uint64_t j = i; j > 0 && samples[j - 1] > samples[j]; --j) {
                const uint64_t t = samples[j];
                samples[j] = samples[j - 1], samples[j - 1] = t;
            }
        hb::printf("rtt count %llu median-ns %llu p90-ns %llu\n", (unsigned long long)done,
                   (unsigned long long)samples[done / 2], (unsigned long long)samples[done * 9 / 10]);
    } else if (mode && mode[0] == 'f') {  // frames
        for (int i = 0; i < 6; ++i)
            payload[i] = 0xFF, payload[6 + i] = stack.mac[i];
        payload[12] = 0x88, payload[13] = 0xB5;
        const uint64_t start = now();
        for (uint64_t i = 0; i < count; ++i)
            for (;;) {
                const auto r = hb::net::send(0, payload, size);
                if (r.ok())
                    break;
                if (r.code != hb::status::again) {
                    hb::printf("bench_net_rounds: frame %llu: status %d\n", (unsigned long long)i, int(r.code));
                    end(1);
                }
                (void)hb::net::yield(now() + 1'000'000'000);
            }
        hb::printf("frames count %llu bytes %llu ns %llu\n", (unsigned long long)count,
                   (unsigned long long)(count * size), (unsigned long long)(now() - start));
    } else {
        hb::print("bench_net_rounds: give mode=flood, rtt or frames\n");
        end(1);
    }
    end(0);
}
