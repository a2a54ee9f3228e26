// INP service (spec chapter 15): count and info, then events the driver feeds
// through the {input} place while the image runs — keys, a pointer's position,
// a button and the wheel — read back in order with their timestamps, whole
// events only, with source 34 and ready; the state they add up to; and a queue
// fed past its length, which must end in one `dropped` event counting the loss.
#include "image.hpp"

HYPERBIOS_CONFORM_NEEDS(input, "HB-INP-003,HB-INP-004,HB-INP-005,HB-INP-006,HB-INP-007,HB-INP-008");

namespace conformance {

namespace {

namespace inp = hb::inp;
using fn = hb::abi::function;
using event = inp::event_record;

const char* const every_requirement[] = {"HB-INP-001", "HB-INP-002", "HB-INP-003", "HB-INP-004",
                                         "HB-INP-005", "HB-INP-006", "HB-INP-007", "HB-INP-008"};
const char* const fed[] = {"HB-INP-003", "HB-INP-004", "HB-INP-005", "HB-INP-006", "HB-INP-007", "HB-INP-008"};

constexpr uint64_t source = hb::evt::bit(hb::abi::evt_source::inp_ready);
uint64_t now() { return hb::time::monotonic_ns().value_or(0); }

struct record {
    uint16_t device, type, code, reserved;
    int32_t value;
    uint32_t unicode;
};
static_assert(sizeof(record) == 16);

// Asks the driver to write `n` records into the host's feed, 7 to a line (a
// report line holds 256 characters).
void feed(const record* records, size_t n)
{
    for (size_t at = 0; at < n; at += 7) {
        line l;
        l.put("FEED-INPUT ");
        const size_t end = at + 7 < n ? at + 7 : n;
        const auto* bytes = reinterpret_cast<const uint8_t*>(records + at);
        for (size_t i = 0; i < (end - at) * sizeof(record); ++i) {
            static const char digits[] = "0123456789abcdef";
            l.put(digits[bytes[i] >> 4]).put(digits[bytes[i] & 15]);
        }
        emit(l);
    }
}

record rec(uint16_t device, uint16_t type, uint16_t code, int32_t value, uint32_t unicode = 0)
{
    return {device, type, code, 0, value, unicode};
}

// Reads events of `device` until `want` have come or 5 s passed.
size_t collect(uint16_t device, event* out, size_t want)
{
    size_t got = 0;
    const uint64_t deadline = now() + 5'000'000'000;
    while (got < want && now() < deadline) {
        (void)hb::evt::wait(deadline, source);
        got += inp::read(device, out + got, want - got).value_or(0);
    }
    return got;
}

event events[512];
record records[400];

}  // namespace

void run_checks()
{
    if (!advertises(hb::abi::service::inp)) {
        for (const char* req : every_requirement)
            skip(req, "INP", "not advertised: the host's discovery does not list INP");
        return;
    }
    const auto count = inp::count();
    check("HB-INP-001", count.ok() && inp::count().value == count.value, "count returns SUCCESS, the same twice");
    int keyboard = -1, pointer = -1;
    uint32_t queue_length = 0;
    for (uint16_t d = 0; count.ok() && d < count.value && d < 8; ++d) {
        inp::info_record r{};
        const auto got = inp::info(d, r);
        bool ok = got.ok() && got.value == sizeof r && r.size == sizeof r && r.version >= 1 && r.reserved0 == 0 &&
                  r.reserved1 == 0 && r.queue_length >= 64 &&
                  (r.kind == hb::abi::inp_kind::keyboard || r.kind == hb::abi::inp_kind::pointer);
        if (ok && r.kind == hb::abi::inp_kind::pointer && r.display != 0xFFFF) {
            hb::dsp::info_record screen{};
            ok = hb::dsp::info(r.display, screen).ok() && r.abs_max_x == screen.width - 1 &&
                 r.abs_max_y == screen.height - 1;
            if (pointer < 0)
                pointer = d;
        }
        if (ok && r.kind == hb::abi::inp_kind::keyboard && keyboard < 0) {
            keyboard = d;
            queue_length = r.queue_length;
        }
        check("HB-INP-002", ok, "info returns a record within its rules (an absolute pointer's ranges are its "
                                "display's mode)");
    }
    if (keyboard < 0 || pointer < 0) {
        for (const char* req : fed)
            not_tested(req, "INP's checks need a keyboard and an absolute pointer",
                       "give the host both, e.g. hbvm --input keyboard --input pointer");
        return;
    }
    const uint16_t k = uint16_t(keyboard), p = uint16_t(pointer);
    inp::info_record pinfo{};
    (void)inp::info(p, pinfo);

    // What the driver feeds: A pressed and released, a move (x past the range:
    // the host keeps it in), a click, the wheel.
    size_t n = 0;
    records[n++] = rec(k, hb::abi::inp_event_type::key, 30, 1, 'a');
    records[n++] = rec(k, hb::abi::inp_event_type::key, 30, 0);
    records[n++] = rec(p, hb::abi::inp_event_type::absolute, 0, int32_t(pinfo.abs_max_x + 100));
    records[n++] = rec(p, hb::abi::inp_event_type::absolute, 1, 7);
    records[n++] = rec(p, hb::abi::inp_event_type::button, 0x110, 1);
    records[n++] = rec(p, hb::abi::inp_event_type::button, 0x110, 0);
    records[n++] = rec(p, hb::abi::inp_event_type::wheel, 0, -1);
    const uint64_t fed_at = now();
    feed(records, n);
    // Wait until both devices have something.
    const uint64_t deadline = now() + 5'000'000'000;
    while (now() < deadline && (inp::ready(0).value_or(0) & ((1u << k) | (1u << p))) != ((1u << k) | (1u << p)))
        (void)hb::evt::wait(deadline, source);
    const bool pending = hb::evt::poll().value_or(0) & source;
    const uint64_t ready = inp::ready(0).value_or(0);
    check("HB-INP-004", pending && (ready >> k & 1) && (ready >> p & 1),
          "source 34 is pending and ready names both devices once the fed events arrived");

    // Whole events only: 10 bytes take nothing, 30 bytes take one.
    uint8_t small[30];
    const raw_result none = raw_call(uint64_t(fn::inp_read), k, uint64_t(small), 10);
    const raw_result one = raw_call(uint64_t(fn::inp_read), k, uint64_t(small), 30);
    event first{};
    for (size_t i = 0; i < sizeof first; ++i)
        reinterpret_cast<uint8_t*>(&first)[i] = small[i];
    check("HB-INP-005", none.status == 0 && none.value == 0 && one.status == 0 && one.value == sizeof(event) &&
                            first.type == hb::abi::inp_event_type::key && first.code == 30 && first.value == 1,
          "read into 10 bytes takes nothing; into 30 bytes takes the first event whole");
    check("HB-INP-007", first.unicode == 'a' && first.time_ns >= fed_at && first.time_ns <= now(),
          "the key press carries its character and a monotonic time after the feed");
    event rest[8]{};
    const size_t keys = collect(k, rest, 1);
    const size_t moves = collect(p, rest + 1, 5);
    const bool order = keys == 1 && rest[0].code == 30 && rest[0].value == 0 && moves == 5 &&
                       rest[1].type == hb::abi::inp_event_type::absolute && rest[1].code == 0 &&
                       rest[2].code == 1 && rest[2].value == 7 && rest[3].type == hb::abi::inp_event_type::button &&
                       rest[3].value == 1 && rest[4].value == 0 && rest[5].type == hb::abi::inp_event_type::wheel &&
                       rest[5].value == -1;
    check("HB-INP-007", order, "the events come in the order they were fed, each once");
    bool times = rest[0].time_ns >= first.time_ns;
    for (size_t i = 2; i < 6; ++i)
        times = times && rest[i].time_ns >= rest[i - 1].time_ns;
    check("HB-INP-007", times, "time_ns does not decrease along a device's queue");
    check("HB-INP-003", moves >= 1 && rest[1].value == int32_t(pinfo.abs_max_x),
          "a position past the range is queued as the range's end");
    check("HB-INP-005", inp::read(k, rest, 8).ok() && inp::read(k, rest, 8).value == 0,
          "read of an empty queue is SUCCESS with 0");
    check("HB-INP-004", !(hb::evt::poll().value_or(0) & source) && inp::ready(0).value_or(1) == 0,
          "source 34 and ready clear once every event is read");
    inp::state_record ps{};
    (void)inp::state(p, ps);
    check("HB-INP-008", ps.abs_x == pinfo.abs_max_x && ps.abs_y == 7 && ps.buttons == 0,
          "the pointer's state is where the events left it");

    // Past the queue's length: B pressed and released in turn, then C pressed,
    // once, last: the state shows C down when the host has taken every record.
    const size_t room = sizeof records / sizeof records[0];
    const size_t sent = queue_length + 21 < room ? queue_length + 21 : room;
    for (size_t i = 0; i + 1 < sent; ++i)
        records[i] = rec(k, hb::abi::inp_event_type::key, 48, i % 2 == 0 ? 1 : 0);
    records[sent - 1] = rec(k, hb::abi::inp_event_type::key, 46, 1);
    feed(records, sent);
    const uint64_t until = now() + 5'000'000'000;
    inp::state_record ks{};
    while (now() < until) {
        (void)inp::state(k, ks);
        if (inp::key_down(ks, 46))
            break;
        (void)hb::evt::wait(now() + 10'000'000, 0);
    }
    const bool b_down = sent % 2 == 0;  // B's last record: a press at an even index
    check("HB-INP-008", inp::key_down(ks, 46) && inp::key_down(ks, 48) == b_down && !inp::key_down(ks, 30),
          "the keyboard's state says which keys are down, though the last events were lost");
    size_t got = 0;
    for (size_t r; (r = inp::read(k, events + got, 512 - got).value_or(0)) != 0;)
        got += r;
    const event& last = events[got ? got - 1 : 0];
    line why;
    why.dec(got).put(" events read of ").dec(sent).put(" fed, queue_length ").dec(queue_length).put(", the last of type ")
        .dec(last.type).put(" value ").dec(uint64_t(last.value));
    check("HB-INP-006", got == queue_length && last.type == hb::abi::inp_event_type::dropped &&
                            uint64_t(last.value) == sent - (queue_length - 1),
          "a queue fed past its length holds queue_length events, the last a dropped event counting the loss",
          why.c_str());
}

}  // namespace conformance
