/* c_kernel: a HyperBIOS kernel written in C, with no C++ file of its own.
 *
 * It is this file, <hyperbios/hyperbios.h> (generated from the ABI table), the
 * prebuilt boot stub libhyperbios-boot.a (32-bit entry -> long mode, stack, IDT,
 * then kernel_main below) and the linker script <hyperbios/boot/multiboot.ld>;
 * hyperbios_add_kernel (cmake/HyperBIOSGuest.cmake) builds it with C flags only.
 *
 * It greets through CONSOLE, reads both clocks (TIME), prints sector 0 of disk 0
 * in hex (BLOCK.read), waits 100 ms on an EVT timer (EVT.timer_set and
 * EVT.wait) and shuts down with code 0 (POWER.shutdown). Without a HyperBIOS host
 * (QEMU, Bochs) it says so on the 0xE9 debug port and ends the run. */
#include <hyperbios/hyperbios.h>

/* Exit code on emulators without HyperBIOS; QEMU turns it into status (2 << 1) | 1 = 5. */
#define NO_HOST_EXIT_CODE 2
#define MS 1000000ull

void kernel_main(uint32_t loader_magic, uint32_t loader_info);

static void out8(uint16_t port, uint8_t value) { __asm__ __volatile__("outb %0, %1" : : "a"(value), "Nd"(port)); }
static void out16(uint16_t port, uint16_t value) { __asm__ __volatile__("outw %0, %1" : : "a"(value), "Nd"(port)); }
static void out32(uint16_t port, uint32_t value) { __asm__ __volatile__("outl %0, %1" : : "a"(value), "Nd"(port)); }

static void halt_forever(void)
{
    for (;;)
        __asm__ __volatile__("cli; hlt" ::: "memory");
}

static size_t length_of(const char* s)
{
    size_t n = 0;
    while (s[n])
        ++n;
    return n;
}

/* Without a host: the 0xE9 debug port (QEMU isa-debugcon, Bochs), then the
 * emulators' ways to power off (QEMU isa-debug-exit, Bochs, ACPI on both). */
static void debugcon_write(const char* s)
{
    while (*s)
        out8(0xE9, (uint8_t)*s++);
}

static void power_off_emulator(uint8_t code)
{
    const char* s;
    out32(0xF4, code);
    for (s = "Shutdown"; *s; ++s)
        out8(0x8900, (uint8_t)*s);
    out16(0x604, 0x2000);
    out16(0xB004, 0x2000);
    halt_forever();
}

/* A line of output, built up and written with one CONSOLE.write. */
static char line[256];
static size_t used;

static void put(const char* s)
{
    while (*s && used < sizeof line - 1)
        line[used++] = *s++;
}

static void put_dec(uint64_t v)
{
    char digits[21];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0 && used < sizeof line - 1)
        line[used++] = digits[--n];
}

static void put_hex(uint64_t v, int width)
{
    static const char hex[] = "0123456789abcdef";
    while (width-- > 0 && used < sizeof line - 1)
        line[used++] = hex[(v >> (4 * width)) & 0xF];
}

static void flush_line(void)
{
    line[used++] = '\n';
    (void)hb_console_write(line, used);
    used = 0;
}

static void say(const char* s) { (void)hb_console_write(s, length_of(s)); }

static void fail(const char* what, struct hb_result r)
{
    put("c_kernel: ");
    put(what);
    put(" failed: ");
    put(hb_status_name(r.status));
    flush_line();
    (void)hb_power_shutdown(1);
    halt_forever();
}

static void clocks(void)
{
    struct hb_result mono = hb_time_monotonic_ns(), wall = hb_time_wallclock_ns();
    if (!hb_ok(mono))
        fail("TIME.monotonic_ns", mono);
    if (!hb_ok(wall))
        fail("TIME.wallclock_ns", wall);
    put("TIME.monotonic_ns: ");
    put_dec(mono.value);
    flush_line();
    put("TIME.wallclock_ns: ");
    put_dec(wall.value);
    flush_line();
}

/* Sector 0 of disk 0, 16 bytes a line: "0000: 00 01 ...". */
static uint8_t sector[4096];
static struct hb_blk_info info;

static void first_sector(void)
{
    struct hb_result r = hb_block_count();
    size_t shown, i, j;
    if (!hb_ok(r))
        fail("BLOCK.count", r);
    if (r.value == 0) {
        say("BLOCK: no disk\n");
        return;
    }
    r = hb_block_info(0, &info, sizeof info);
    if (!hb_ok(r))
        fail("BLOCK.info", r);
    put("BLOCK: disk 0 \"");
    for (i = 0; i < sizeof info.name && info.name[i]; ++i)
        line[used++] = (char)info.name[i];
    put("\", ");
    put_dec(info.sector_count);
    put(" sectors of ");
    put_dec(info.sector_size);
    put(" bytes");
    flush_line();
    if (info.sector_size > sizeof sector) {
        say("BLOCK: sectors larger than this kernel's buffer\n");
        return;
    }
    r = hb_block_read(0, 0, sector, info.sector_size);
    if (!hb_ok(r))
        fail("BLOCK.read", r);
    put("BLOCK.read sector 0: ");
    put_dec(r.value);
    put(" bytes");
    flush_line();
    shown = info.sector_size < 512 ? info.sector_size : 512;
    for (i = 0; i < shown; i += 16) {
        put_hex(i, 4);
        put(":");
        for (j = i; j < i + 16 && j < shown; ++j) {
            put(" ");
            put_hex(sector[j], 2);
        }
        flush_line();
    }
}

/* Timer 0 expires 100 ms from now; EVT.wait sleeps until it is pending. */
static void timer_wait(void)
{
    const uint16_t timer = 0;
    const uint64_t source = 1ull << (HB_EVT_SOURCE_TIMER_0 + timer);
    struct hb_result r, start, now, acked;
    uint64_t deadline;
    if (!hb_has_service(HB_SERVICE_EVT)) {
        say("EVT: not offered by this host\n");
        return;
    }
    start = hb_time_monotonic_ns();
    deadline = start.value + 100 * MS;
    r = hb_evt_timer_set(timer, deadline, 0);
    if (!hb_ok(r))
        fail("EVT.timer_set", r);
    do {
        /* A deadline of its own a second later: a lost timer does not hang the kernel. */
        r = hb_evt_wait(deadline + 1000 * MS, source);
        if (!hb_ok(r))
            fail("EVT.wait", r);
        now = hb_time_monotonic_ns();
    } while (!(r.value & source) && now.value < deadline + 1000 * MS);
    acked = hb_evt_timer_ack(timer);
    if (!hb_ok(acked))
        fail("EVT.timer_ack", acked);
    put("EVT: timer 0 ");
    put((r.value & source) ? "expired" : "did NOT expire");
    put(" after ");
    put_dec((now.value - start.value) / MS);
    put(" ms (set for 100 ms), expirations ");
    put_dec(acked.value);
    flush_line();
}

void kernel_main(uint32_t loader_magic, uint32_t loader_info)
{
    const struct hb_host* host = hb_detect();
    struct hb_result r;
    (void)loader_magic;
    (void)loader_info;
    if (!host->present) {
        debugcon_write(host->hypervisor_bit
                           ? "c_kernel: no HyperBIOS host present (a hypervisor, but no HyperBIOS interface in "
                             "CPUID 0x40000000-0x4000FF00); ending the run\n"
                           : "c_kernel: no HyperBIOS host present (CPUID.1:ECX[31] is clear); ending the run\n");
        power_off_emulator(NO_HOST_EXIT_CODE);
    }

    put("Hello from a C kernel! Host vendor \"");
    put(host->vendor);
    put("\", interface ");
    put_dec(HB_VERSION_MAJOR(host->interface_version));
    put(".");
    put_dec(HB_VERSION_MINOR(host->interface_version));
    flush_line();
    clocks();
    first_sector();
    timer_wait();
    say("Goodbye.\n");
    r = hb_power_shutdown(0);
    put("c_kernel: POWER.shutdown failed: ");
    put(hb_status_name(r.status));
    flush_line();
    debugcon_write("c_kernel: POWER.shutdown failed\n");
    power_off_emulator(1);
}
