// net-echo: a kernel on the network. It takes a DHCP lease (or the address
// `ip=A.B.C.D/N` gives), prints it, answers ping and echoes UDP datagrams on
// port 7 (`port=` another), sleeping in EVT.wait between frames:
//
//     hbvm run build/examples/net-echo/net-echo.elf --net user,hostfwd=udp::5555-:7
//     echo hello | nc -u -q1 127.0.0.1 5555      # in another terminal: "hello" comes back
//
// It can be the other side too: `ping=A.B.C.D` pings that address three times,
// `udp=A.B.C.D:PORT` sends three datagrams and waits for their echo,
// `resolve=NAME` asks the DNS server (DHCP's) for NAME's address; then it
// ends (exit 0 when every answer came, 1 otherwise). `seconds=N` ends a server
// after N seconds (default: it runs until hbvm is stopped). Two machines on one
// segment, one pinging the other:
//
//     hbvm run net-echo.elf --net socket:/tmp/seg -- ip=10.0.0.1/24 &
//     hbvm run net-echo.elf --net socket:/tmp/seg -- ip=10.0.0.2/24 ping=10.0.0.1 udp=10.0.0.1:7
#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/netstack/hyperbios_netstack.h>

namespace hb = hyperbios;

namespace {

constexpr uint8_t cannot_run_exit_code = 2;
constexpr uint64_t second_ns = 1'000'000'000;

hb_netstack stack;  // ~19 KiB: static storage
hb::boot::boot_info boot;
uint64_t echoed;

uint64_t now() { return hb::time::monotonic_ns().value_or(0); }

[[noreturn]] void end(uint8_t code)
{
    (void)hb::power::shutdown(code);
    hb::fallback::power_off_emulator(code);
}

// "10.0.0.2" -> the address, with what follows it in *rest; 0 when malformed.
uint32_t parse_ip(const char* text, const char** rest)
{
    uint32_t ip = 0;
    for (int part = 0; part < 4; ++part) {
        if (*text < '0' || *text > '9')
            return 0;
        uint32_t n = 0;
        for (; *text >= '0' && *text <= '9'; ++text)
            n = n * 10 + uint32_t(*text - '0');
        if (n > 255 || (part < 3 && *text++ != '.'))
            return 0;
        ip = ip << 8 | n;
    }
    *rest = text;
    return ip;
}

uint64_t parse_number(const char* text)
{
    uint64_t n = 0;
    for (; text && *text >= '0' && *text <= '9'; ++text)
        n = n * 10 + uint64_t(*text - '0');
    return n;
}

// `data` lies in the stack's receive buffer, which the send below may reuse
// (to wait for an ARP answer): it is copied first.
void echo(void*, uint32_t from_ip, uint16_t from_port, uint16_t to_port, const void* data, size_t length)
{
    static uint8_t datagram[HB_NETSTACK_MAX_FRAME];
    for (size_t i = 0; i < length; ++i)
        datagram[i] = static_cast<const uint8_t*>(data)[i];
    data = datagram;
    char from[16];
    hb::printf("net-echo: %zu bytes from %s:%u, echoed\n", length, hb_netstack_format_ip(from_ip, from),
               unsigned(from_port));
    (void)hb_netstack_udp_send(&stack, from_ip, from_port, to_port, data, length);
    ++echoed;
}

struct reply {
    bool came;
    char text[64];
};

void on_reply(void* context, uint32_t, uint16_t, uint16_t, const void* data, size_t length)
{
    auto* r = static_cast<reply*>(context);
    r->came = true;
    size_t n = length < sizeof r->text - 1 ? length : sizeof r->text - 1;
    for (size_t i = 0; i < n; ++i)
        r->text[i] = static_cast<const char*>(data)[i];
    r->text[n] = 0;
}

bool ping(uint32_t to)
{
    char text[16];
    bool all = true;
    for (uint16_t seq = 1; seq <= 3; ++seq) {
        uint64_t rtt = 0;
        const int r = hb_netstack_ping(&stack, to, seq, 2 * second_ns, &rtt);
        if (r == 0)
            hb::printf("net-echo: ping %s seq %u: reply in %llu us\n", hb_netstack_format_ip(to, text), unsigned(seq),
                       (unsigned long long)(rtt / 1000));
        else
            hb::printf("net-echo: ping %s seq %u: no reply (%d)\n", hb_netstack_format_ip(to, text), unsigned(seq), r);
        all = all && r == 0;
    }
    return all;
}

bool udp_exchange(uint32_t to, uint16_t port)
{
    char text[16];
    constexpr uint16_t own_port = 40000;
    static reply got;
    (void)hb_netstack_udp_bind(&stack, own_port, on_reply, &got);
    bool all = true;
    for (unsigned i = 1; i <= 3; ++i) {
        char message[] = "hello N";
        message[6] = char('0' + i);
        got.came = false;
        const int sent = hb_netstack_udp_send(&stack, to, port, own_port, message, sizeof message - 1);
        const uint64_t deadline = now() + 2 * second_ns;
        while (sent > 0 && !got.came && now() < deadline)
            (void)hb_netstack_wait(&stack, deadline);
        bool same = got.came;
        for (size_t k = 0; same && k < sizeof message; ++k)
            same = got.text[k] == message[k];
        hb::printf("net-echo: udp %s:%u '%s': %s\n", hb_netstack_format_ip(to, text), unsigned(port), message,
                   same ? "echoed" : sent < 0 ? "not sent" : "no echo");
        all = all && same;
    }
    hb_netstack_udp_unbind(&stack, own_port);
    return all;
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    if (!hb::detect().present) {
        hb::fallback::debugcon_write("net-echo: no HyperBIOS host present, so no network; ending the run\n");
        hb::fallback::power_off_emulator(cannot_run_exit_code);
    }
    boot.read(magic, info);
    const hb::boot::kernel_arguments& args = boot.arguments();
    if (!hb::detect().has_service(hb::abi::service::net) || hb::net::count().value_or(0) == 0) {
        hb::print("net-echo: this machine has no network interface (give hbvm one: --net user); ending the run\n");
        end(cannot_run_exit_code);
    }
    const int init = hb_netstack_init(&stack, 0);
    if (init != 0) {
        hb::printf("net-echo: interface 0 cannot be used (%d); ending the run\n", init);
        end(cannot_run_exit_code);
    }
    hb::printf("net-echo: interface 0, MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u\n", stack.mac[0], stack.mac[1],
               stack.mac[2], stack.mac[3], stack.mac[4], stack.mac[5], unsigned(stack.mtu));

    char a[16], b[16], c[16];
    if (const char* given = args.value("ip")) {
        const char* rest = given;
        const uint32_t ip = parse_ip(given, &rest);
        const uint64_t prefix = *rest == '/' ? parse_number(rest + 1) : 24;
        const uint32_t mask = prefix == 0 ? 0 : prefix >= 32 ? 0xFFFFFFFF : ~((uint32_t(1) << (32 - prefix)) - 1);
        const char* gw_text = args.value("gateway");
        const uint32_t gateway = gw_text ? parse_ip(gw_text, &rest) : 0;
        if (!ip) {
            hb::printf("net-echo: ip=%s is not an address (write ip=10.0.0.2/24)\n", given);
            end(1);
        }
        hb_netstack_set_address(&stack, ip, mask, gateway);
        hb::printf("net-echo: address %s/%u (static)\n", hb_netstack_format_ip(ip, a), unsigned(prefix));
    } else {
        hb::print("net-echo: asking for a DHCP lease\n");
        const int lease = hb_netstack_dhcp(&stack, 10 * second_ns);
        if (lease != 0) {
            hb::print("net-echo: no DHCP server answered in 10 s (give ip=A.B.C.D/N for a static address)\n");
            end(1);
        }
        hb::printf("net-echo: address %s, netmask %s, gateway %s (DHCP, %u s lease)\n",
                   hb_netstack_format_ip(stack.ip, a), hb_netstack_format_ip(stack.netmask, b),
                   hb_netstack_format_ip(stack.gateway, c), unsigned(stack.lease_seconds));
        if (stack.dns)
            hb::printf("net-echo: DNS server %s\n", hb_netstack_format_ip(stack.dns, a));
    }

    const char* ping_text = args.value("ping");
    const char* udp_text = args.value("udp");
    const char* name = args.value("resolve");
    if (ping_text || udp_text || name) {
        bool ok = true;
        const char* rest = nullptr;
        if (name) {
            uint32_t found = 0;
            const int r = hb_netstack_resolve(&stack, name, &found, 6 * second_ns);
            if (r == 0)
                hb::printf("net-echo: %s is %s\n", name, hb_netstack_format_ip(found, a));
            else
                hb::printf("net-echo: %s: %s\n", name, r == HB_NETSTACK_NOT_FOUND ? "no such name" : "no answer");
            ok = r == 0;
        }
        if (ping_text) {
            const uint32_t to = parse_ip(ping_text, &rest);
            ok = to && ping(to) && ok;
        }
        if (udp_text) {
            const uint32_t to = parse_ip(udp_text, &rest);
            const uint64_t port = rest && *rest == ':' ? parse_number(rest + 1) : 7;
            ok = to && port && port < 65536 && udp_exchange(to, uint16_t(port)) && ok;
        }
        hb::printf("net-echo: %s\n", ok ? "every answer came" : "some answers did not come");
        end(ok ? 0 : 1);
    }

    const uint64_t port = args.value("port") ? parse_number(args.value("port")) : 7;
    (void)hb_netstack_udp_bind(&stack, uint16_t(port), echo, nullptr);
    hb::printf("net-echo: serving UDP echo on port %u; answering ping\n", unsigned(port));
    const uint64_t seconds = parse_number(args.value("seconds"));
    const uint64_t stop = seconds ? now() + seconds * second_ns : ~uint64_t(0);
    while (now() < stop)
        (void)hb_netstack_wait(&stack, stop);
    hb::printf("net-echo: %llu datagrams echoed in %llu s; ending the run\n", (unsigned long long)echoed,
               (unsigned long long)seconds);
    end(0);
}
