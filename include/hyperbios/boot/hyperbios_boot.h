/* <hyperbios/boot/hyperbios_boot.h>: what libhyperbios-boot.a, the prebuilt boot
 * stub for kernels without a C++ file of their own, gives a C kernel besides
 * booting it -- exception handlers, the kernel's arguments as one string and
 * how far the stub's identity map reaches.
 * <hyperbios/hyperbios.h> is the HyperBIOS interface itself (generated from the
 * ABI table, all static inline); this header only declares functions the
 * library defines (boot/hyperbios_boot.cpp, boot/hyperbios_boot_arguments.cpp),
 * which a C kernel on the stub links anyway. Hand-written: it is the C face of
 * <hyperbios/interrupts.hpp> and kernel_arguments::joined, and the library's
 * own source includes it, so a declaration that drifted from its definition
 * would not compile. C99 and later, and C++. */
#ifndef HYPERBIOS_BOOT_HYPERBIOS_BOOT_H
#define HYPERBIOS_BOOT_HYPERBIOS_BOOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a handler sees and may change, as the entry stubs push it
 * (hyperbios::interrupts::frame): RIP to resume elsewhere, RAX..R15, RFLAGS. */
struct hb_interrupt_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code; /* 0 for vectors without one */
    uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

/* A handler returns to resume at frame->rip (IRETQ), or ends the run. */
typedef void (*hb_interrupt_handler)(struct hb_interrupt_frame* frame);

/* The exit code of the built-in crash handler (and hbvm's status for a crashed guest). */
#define HB_CRASH_EXIT_CODE 70

/* `handler` handles `vector` from now on; NULL gives the vector back to the
 * default handler. */
void hb_interrupts_set_handler(uint8_t vector, hb_interrupt_handler handler);

/* `handler` handles every vector without a handler of its own, from now on;
 * NULL restores the built-in crash handler (report, then shut down with 70). */
void hb_interrupts_set_default_handler(hb_interrupt_handler handler);

/* The built-in crash handler: reports the vector, RIP, the error code, CR2 and
 * RSP on the HyperBIOS console (or the emulators' debug port, or COM1) and shuts
 * down with HB_CRASH_EXIT_CODE; for a handler that passes on what it does not
 * want. Does not return. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((__noreturn__))
#endif
void hb_interrupts_crash_handler(struct hb_interrupt_frame* frame);

/* A short name of an architecture exception vector ("#PF page fault"); "interrupt" above 21. */
const char* hb_exception_name(uint64_t vector);

/* One past the last byte the boot stub identity-mapped (a multiple of 1 GiB):
 * at least 4 GiB, and up to the end of the highest RAM range the loader
 * reported unless that lies beyond what the stub's page tables hold (32 GiB
 * with 2 MiB pages, 512 GiB with 1 GiB pages; <hyperbios/boot/multiboot.hpp>).
 * RAM above it is not mapped. */
uint64_t hb_boot_identity_map_end(void);

/* The kernel's arguments as one string: the words of the command line after
 * the image path, without the loader's quoting (GRUB and hbvm quote a word with
 * a space), one space apart -- kernel_arguments::joined. Pass kernel_main's two
 * arguments as they came. Written as snprintf writes: at most capacity - 1
 * bytes and a NUL (nothing when capacity is 0); returns the whole length, so a
 * result >= capacity means cut. 4096 bytes always suffice. The first call
 * links about 7 KiB of .bss (the reader of the boot protocols). */
size_t hb_boot_arguments_joined(uint32_t loader_magic, uint32_t loader_info, char* buffer, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
