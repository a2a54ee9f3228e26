// Prints every input event it receives on the debug port, one line each
// ("INPUT dev type code value unicode modifiers"), for the host's input tests
// (test_display.py): waits on source 34 with EVT.wait, reads whole events, and
// after an event of type `dropped` prints the state ("STATE dev keys-down
// buttons x y"). Says "READY" once it listens; shuts down with 0 when the key
// Escape (evdev 1) is released.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>

namespace hb = hyperbios;

namespace {

void put_number(uint64_t v)
{
    char text[24];
    int n = 0;
    do
        text[n++] = char('0' + v % 10);
    while ((v /= 10) && n < 24);
    while (n)
        hb::fallback::debug_write(&text[--n], 1);
}

void put(const char* text) { hb::fallback::debug_write(text); }

}  // namespace

extern "C" void kernel_main(uint32_t, uint32_t)
{
    const uint64_t devices = hb::inp::count().value_or(0);
    put("READY ");
    put_number(devices);
    put("\n");
    hb::inp::event_record events[16];
    for (;;) {
        (void)hb::evt::wait(hb::evt::no_deadline, hb::evt::bit(hb::abi::evt_source::inp_ready));
        const uint64_t ready = hb::inp::ready(0).value_or(0);
        for (uint16_t dev = 0; dev < devices; ++dev) {
            if (!((ready >> dev) & 1))
                continue;
            const size_t n = hb::inp::read(dev, events, 16).value_or(0);
            for (size_t i = 0; i < n; ++i) {
                const hb::inp::event_record& e = events[i];
                put("INPUT ");
                put_number(dev);
                put(" ");
                put_number(e.type);
                put(" ");
                put_number(e.code);
                put(" ");
                if (e.value < 0)
                    put("-");
                put_number(uint64_t(e.value < 0 ? -int64_t(e.value) : int64_t(e.value)));
                put(" ");
                put_number(e.unicode);
                put(" ");
                put_number(e.modifiers);
                put("\n");
                if (e.type == hb::abi::inp_event_type::dropped) {
                    hb::inp::state_record s{};
                    (void)hb::inp::state(dev, s);
                    unsigned down = 0;
                    for (uint16_t k = 0; k < 768; ++k)
                        down += hb::inp::key_down(s, k);
                    put("STATE ");
                    put_number(dev);
                    put(" ");
                    put_number(down);
                    put(" ");
                    put_number(s.buttons);
                    put(" ");
                    put_number(s.abs_x);
                    put(" ");
                    put_number(s.abs_y);
                    put("\n");
                }
                if (e.type == hb::abi::inp_event_type::key && e.code == 1 && e.value == 0)
                    (void)hb::power::shutdown(0);
            }
        }
    }
}
