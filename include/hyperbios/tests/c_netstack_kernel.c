/* A kernel in C on libhyperbios-net.a, for test_kernels.py: it takes NET
 * interface 0 with <hyperbios/netstack/hyperbios_netstack.h>, gives it
 * 10.0.0.2/24, sends one UDP broadcast to port 9 and ends with exit code 0 when
 * the stack took it. The test reads the datagram back from the interface's
 * capture. */
#include <hyperbios/hyperbios.h>
#include <hyperbios/netstack/hyperbios_netstack.h>

void kernel_main(uint32_t loader_magic, uint32_t loader_info);

static struct hb_netstack stack;

static void say(const char* text)
{
    size_t length = 0;
    while (text[length])
        ++length;
    (void)hb_console_write(text, length);
}

void kernel_main(uint32_t loader_magic, uint32_t loader_info)
{
    static const char message[] = "hello from C";
    char address[16];
    int sent;
    (void)loader_magic, (void)loader_info;
    if (hb_netstack_init(&stack, 0) != 0) {
        say("c-netstack: no network interface\n");
        (void)hb_power_shutdown(2);
    }
    hb_netstack_set_address(&stack, hb_netstack_ipv4(10, 0, 0, 2), 0xFFFFFF00u, 0);
    sent = hb_netstack_udp_send(&stack, 0xFFFFFFFFu, 9, 40000, message, sizeof message - 1);
    say("c-netstack: ");
    say(hb_netstack_format_ip(stack.ip, address));
    say(sent == (int)(sizeof message - 1) ? " sent a broadcast\n" : " could not send\n");
    (void)hb_power_shutdown(sent == (int)(sizeof message - 1) ? 0 : 1);
}
