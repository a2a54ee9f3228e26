// ticker: a kernel driven by events. A periodic EVT timer raises an interrupt
// once a second and the kernel prints its uptime; keys typed on the console
// raise the same interrupt and are echoed; in between, the vCPU sleeps in
// `sti; hlt`, which on the reference host costs no host CPU at all. After
// `seconds=N` ticks (a kernel argument, default 10; 0: run until stopped) it
// shuts down with exit code 0:
//
//     hbvm run build/examples/ticker/ticker.elf -- seconds=5
//
// Without a HyperBIOS host (QEMU, Bochs) it says so on the 0xE9 debug port and
// ends the run; on a host without the EVT service it says so and exits 2.
#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/interrupts.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;
namespace evt = hyperbios::evt;
namespace hi = hyperbios::interrupts;

namespace {

// Exit code when the kernel cannot run here (no host, or no EVT); on QEMU it
// becomes status (2 << 1) | 1 = 5.
constexpr uint8_t cannot_run_exit_code = 2;
constexpr uint64_t default_seconds = 10;

// EVT raises one vector for every unmasked source; any free one of 32-255 does.
// The handler asks poll() which sources are pending.
constexpr uint8_t event_vector = 0x40;
constexpr uint16_t tick_timer = 0;
constexpr uint64_t second_ns = 1'000'000'000;

// Shared between the interrupt handler and kernel_main. The main loop reads
// them only with interrupts disabled (see kernel_main), so no update is torn
// or lost; `volatile` keeps the compiler from caching them across `hlt`.
volatile uint64_t ticks;         // timer expirations counted since the start
volatile uint64_t missed;        // expirations beyond one per interrupt, not yet reported
char typed[256];                 // console bytes not yet echoed
volatile size_t typed_length;

// Sources are level-triggered: the host raises the vector again as soon as
// interrupts are enabled while an unmasked source is still pending. So the
// handler must clear what it was called for before it returns: timer_ack()
// clears the timer, and reading the console until it is empty clears console
// input. The printing is left to kernel_main, outside the handler.
void on_event(hi::frame&) noexcept
{
    const uint64_t pending = evt::poll().value_or(0);
    if (pending & evt::bit(evt::timer_source(tick_timer))) {
        // More than one expiration since the last ack: periods passed without
        // an interrupt taken (the host or the guest was busy). Count them all,
        // so that the uptime stays right, and report the gap.
        const uint64_t expirations = evt::timer_ack(tick_timer).value_or(0);
        ticks = ticks + expirations;
        if (expirations > 1)
            missed = missed + (expirations - 1);
    }
    if (pending & evt::bit(evt::console_input)) {
        // Drain it all; what does not fit in `typed` is dropped, never left
        // pending (that would raise the interrupt again and again).
        for (;;) {
            char chunk[64];
            const hb::result<size_t> got = hb::console::read(chunk, sizeof chunk);
            if (!got.ok() || got.value == 0)
                break;
            for (size_t i = 0; i < got.value && typed_length < sizeof typed; ++i) {
                typed[typed_length] = chunk[i];
                typed_length = typed_length + 1;
            }
        }
    }
}

void say(const char* text) { (void)hb::console::write(text); }

uint64_t seconds_argument(uint32_t magic, uint32_t info)
{
    static hb::boot::boot_info boot;  // ~7 KiB: off the stack
    boot.read(magic, info);
    const char* value = boot.arguments().value("seconds");
    if (!value || *value == 0)
        return default_seconds;
    uint64_t n = 0;
    for (; *value >= '0' && *value <= '9'; ++value)
        n = n * 10 + uint64_t(*value - '0');
    return n;
}

// Echoes typed bytes, printable ones as they are and the others as \n, \xNN.
void echo(const char* bytes, size_t length)
{
    hb::text::line<1100> out;
    out.put("typed \"");
    for (size_t i = 0; i < length; ++i) {
        const unsigned char c = static_cast<unsigned char>(bytes[i]);
        if (c == '\n')
            out.put("\\n");
        else if (c == '"' || c == '\\')
            out.put('\\').put(char(c));
        else if (c >= 0x20 && c < 0x7F)
            out.put(char(c));
        else
            out.put("\\x").hex(c, 2);
    }
    say(out.put("\"\n").c_str());
}

[[noreturn]] void fail(const char* what, hb::status code)
{
    hb::text::line<160> out;
    out.put("ticker: ").put(what).put(" failed: ").put(hb::abi::status_name(code)).put('\n');
    say(out.c_str());
    (void)hb::power::shutdown(1);
    hb::fallback::power_off_emulator(1);
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    const hb::host_info& host = hb::detect();
    if (!host.present) {
        hb::fallback::debugcon_write("ticker: no HyperBIOS host present, so no timers and no console; ending the run\n");
        hb::fallback::power_off_emulator(cannot_run_exit_code);
    }
    // Discovery's bitmap says whether EVT is offered; probe_service confirms it
    // and gives its version (0: absent). A host older than spec 0.4 has neither.
    const hb::result<uint32_t> version = hb::base::probe_service(hb::abi::service::evt);
    if (!host.has_service(hb::abi::service::evt) || !version.ok() || version.value == 0) {
        say("ticker: this HyperBIOS host offers no EVT service (events and timers, spec 0.4); ending the run\n");
        (void)hb::power::shutdown(cannot_run_exit_code);
        hb::fallback::power_off_emulator(cannot_run_exit_code);
    }
    const uint64_t seconds = seconds_argument(magic, info);

    // Handler first, then the vector, then unmask: every source is masked at
    // boot, and an interrupt must never find the default handler (which would
    // report a crash).
    hi::set_handler(event_vector, on_event);
    if (auto r = evt::set_vector(event_vector); !r.ok())
        fail("EVT.set_vector", r.code);
    if (auto r = evt::set_mask(~(evt::bit(evt::timer_source(tick_timer)) | evt::bit(evt::console_input))); !r.ok())
        fail("EVT.set_mask", r.code);
    const hb::result<uint64_t> start = hb::time::monotonic_ns();
    if (!start.ok())
        fail("TIME.monotonic_ns", start.code);
    // Deadlines are absolute (start + n s), so the ticks do not drift however
    // late each interrupt is taken.
    if (auto r = evt::timer_set(tick_timer, start.value + second_ns, second_ns); !r.ok())
        fail("EVT.timer_set", r.code);

    hb::text::line<160> out;
    out.put("ticker: a tick every second");
    if (seconds)
        out.put(" for ").dec(seconds).put(" s");
    say(out.put("; type keys to see them echoed\n").c_str());

    // The main loop runs with interrupts disabled and enables them only in
    // `sti; hlt` (evt::halt): `sti` takes effect after the next instruction, so
    // an event that arrives after the checks below still wakes the `hlt`
    // instead of being taken just before it and leaving the vCPU asleep until
    // the next one. The handler runs inside that window; when `hlt` returns,
    // interrupts are disabled again and the shared state is read whole.
    uint64_t shown = 0;
    for (;;) {
        evt::disable_interrupts();
        if (typed_length) {
            char copy[sizeof typed];
            const size_t n = typed_length;
            for (size_t i = 0; i < n; ++i)
                copy[i] = typed[i];
            typed_length = 0;
            echo(copy, n);
        }
        if (missed) {
            out.clear();
            say(out.put("missed ").dec(missed).put(missed == 1 ? " tick\n" : " ticks\n").c_str());
            missed = 0;
        }
        if (ticks != shown) {
            shown = ticks;
            out.clear();
            say(out.put("uptime ").dec(shown).put(" s\n").c_str());
        }
        if (seconds && shown >= seconds)
            break;
        evt::halt();
    }

    (void)evt::timer_cancel(tick_timer);
    out.clear();
    say(out.put("ticker: ").dec(shown).put(" s up; shutting down\n").c_str());
    const hb::result<void> r = hb::power::shutdown(0);
    fail("POWER.shutdown", r.code);
}
