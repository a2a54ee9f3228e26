/* A kernel in C on libhyperbios-boot.a that uses what <hyperbios/boot/hyperbios_boot.h>
 * adds to the boot stub, for test_kernels.py: its arguments as one unquoted
 * string (hb_boot_arguments_joined), a handler of its own for #DE that resumes
 * after the faulting instruction, and a default handler of its own that ends the
 * run on the #UD that follows with its own exit code, 43. */
#include <hyperbios/boot/hyperbios_boot.h>
#include <hyperbios/hyperbios.h>

#define OWN_EXIT_CODE 43

void kernel_main(uint32_t loader_magic, uint32_t loader_info);

static void say(const char* text)
{
    size_t length = 0;
    while (text[length])
        ++length;
    (void)hb_console_write(text, length);
}

static void on_divide_error(struct hb_interrupt_frame* frame)
{
    say("c-boot-library: vector 0's own handler: ");
    say(hb_exception_name(frame->vector));
    say("\n");
    frame->rip += 2; /* past div %ecx */
}

static void on_any_other_exception(struct hb_interrupt_frame* frame)
{
    say("c-boot-library: the kernel's default handler: ");
    say(hb_exception_name(frame->vector));
    say("; shutting down with 43\n");
    (void)hb_power_shutdown(OWN_EXIT_CODE);
    for (;;)
        __asm__ __volatile__("cli; hlt");
}

void kernel_main(uint32_t loader_magic, uint32_t loader_info)
{
    static char joined[64];
    const size_t length = hb_boot_arguments_joined(loader_magic, loader_info, joined, sizeof joined);
    say("c-boot-library: arguments joined [");
    say(joined);
    say(length >= sizeof joined ? "] (cut)\n" : "]\n");
    hb_interrupts_set_handler(0, on_divide_error);
    hb_interrupts_set_default_handler(on_any_other_exception);
    __asm__ __volatile__("xorl %%edx, %%edx; divl %%ecx" : : "c"(0), "a"(1) : "rdx"); /* #DE (f7 f1) */
    say("c-boot-library: resumed after #DE\n");
    __asm__ __volatile__("ud2");
    say("c-boot-library: still running after ud2\n");
    (void)hb_power_shutdown(1);
}
