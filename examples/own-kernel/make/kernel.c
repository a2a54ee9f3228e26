/* A kernel in C, in a folder of its own, built by make against an installed
 * HyperBIOS: <hyperbios/hyperbios.h>, the boot library and the linker script. */
#include <hyperbios/hyperbios.h>

void kernel_main(uint32_t magic, uint32_t info);

void kernel_main(uint32_t magic, uint32_t info)
{
    static const char greeting[] = "my_kernel (make, C): hello from outside the HyperBIOS tree\n";
    (void)magic;
    (void)info;
    hb_console_write(greeting, sizeof greeting - 1);
    /* A 10 ms timer, waited for: the vCPU sleeps in the host meanwhile. */
    struct hb_result now = hb_time_monotonic_ns();
    hb_evt_timer_set(0, now.value + 10000000u, 0);
    hb_evt_wait(now.value + 1000000000u, 1u); /* source 0: timer 0; at most 1 s */
    hb_power_shutdown(0);
}
