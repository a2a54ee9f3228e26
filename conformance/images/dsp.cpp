// DSP service (spec chapter 14): count and info, the boot mode, set_mode with
// its generations, present's checks (the exact bytes it reads, refusals that
// change nothing), a picture the driver finds pixel-exact in the {screenshot}
// place after the guest scribbled over its framebuffer, paced `presented`
// events, ready and source 33, next_event, and a queue that overflows.
//
// The picture: a 64x48 mode in which pixel (x, y) is 0x00RRGGBB with R = x * 4,
// G = y * 5, B = x ^ y (conform.py dsp_pattern computes the same).
#include "image.hpp"

HYPERBIOS_CONFORM_NEEDS(screenshot, "HB-DSP-006,HB-DSP-007");

namespace conformance {

namespace {

namespace dsp = hb::dsp;
using fn = hb::abi::function;

const char* const every_requirement[] = {"HB-DSP-001", "HB-DSP-002", "HB-DSP-003", "HB-DSP-004", "HB-DSP-005",
                                         "HB-DSP-006", "HB-DSP-007", "HB-DSP-008", "HB-DSP-009", "HB-DSP-010",
                                         "HB-DSP-011", "HB-DSP-012"};

constexpr uint32_t width = 64, height = 48, stride = 80 * 4;
alignas(4096) uint32_t framebuffer[height * stride / 4];
alignas(4096) uint32_t wrong[height * stride / 4];
alignas(4096) uint32_t picture[height * stride / 4];  // the picture again, for the presents after the scribble

uint32_t pattern(uint32_t x, uint32_t y) { return (x * 4) << 16 | (y * 5) << 8 | (x ^ y); }

uint64_t now() { return hb::time::monotonic_ns().value_or(0); }

// The host's rate limit on present (BASE.rate_limit, spec 5.8; 0: none).
uint64_t present_rate()
{
    if (hb::detect().interface_version < hb::abi::make_version(0, 9))
        return 0;
    const raw_result r = raw_call(fn::base_rate_limit, uint64_t(fn::dsp_present));
    return r.status == 0 ? r.value : 0;
}

uint64_t now();

// A present that keeps under the host's rate limit: an AGAIN while a limit is
// set is waited out (at most a little over the limit's second), so that the
// checks below see the function's own answers. check_rate_limit looks at the
// limit itself, with raw calls.
raw_result present(uint64_t record_address)
{
    static const uint64_t rate = present_rate();
    const uint64_t start = now();
    for (;;) {
        const raw_result r = raw_call(fn::dsp_present, 0, record_address);
        if (r.status != int64_t(hb::status::again) || rate == 0 || now() - start > 1'500'000'000)
            return r;
        const uint64_t until = now() + 1'000'000'000 / rate;
        while (now() < until) {
        }
    }
}

hb::abi::dsp_present frame(uint32_t generation, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
                           const void* buffer = framebuffer, uint32_t row_bytes = stride)
{
    return {hb::detail::to_gpa(buffer), row_bytes, hb::abi::dsp_format::xrgb8888, generation, x, y, w, h, 0};
}

// Takes every event waiting on display 0; returns how many, the last one in `last`.
size_t drain(hb::abi::dsp_event& last)
{
    size_t n = 0;
    hb::abi::dsp_event e{};
    while (dsp::next_event(0, e).value_or(0) == sizeof e) {
        last = e;
        ++n;
    }
    return n;
}

// Waits up to `ns` for a `presented` event on display 0; true with it in `out`.
bool wait_presented(uint64_t ns, hb::abi::dsp_event& out)
{
    const uint64_t deadline = now() + ns;
    for (;;) {
        hb::abi::dsp_event e{};
        while (dsp::next_event(0, e).value_or(0) == sizeof e)
            if (e.type == hb::abi::dsp_event_type::presented) {
                out = e;
                return true;
            }
        if (now() >= deadline)
            return false;
        (void)hb::evt::wait(deadline, hb::evt::bit(hb::abi::evt_source::dsp_ready));
    }
}

void check_info(uint16_t display, bool at_boot)
{
    dsp::info_record r{};
    const auto got = dsp::info(display, r);
    const bool fields = r.size == sizeof r && r.version >= 1 && r.width <= r.max_width && r.height <= r.max_height &&
                        (r.formats & (1u << hb::abi::dsp_format::xrgb8888)) && !(r.flags & ~uint32_t(0x3)) &&
                        r.reserved0 == 0 && r.reserved1 == 0 && r.reserved2 == 0;
    line why;
    why.put("status ").put(hb::abi::status_name(got.code)).put(", size ").dec(got.value).put(", ").dec(r.width)
        .put('x').dec(r.height).put(" of at most ").dec(r.max_width).put('x').dec(r.max_height).put(", formats ")
        .hex(r.formats).put(", flags ").hex(r.flags);
    check("HB-DSP-002", got.ok() && got.value == sizeof r && fields,
          "info returns the record's size and a record within its rules", why.c_str());
    // Exactly min(length, size) bytes: a 10-byte buffer between guards.
    uint8_t bytes[64];
    for (uint8_t& b : bytes)
        b = 0xA5;
    const raw_result part = raw_call(uint64_t(fn::dsp_info), display, uint64_t(&bytes[8]), 10);
    bool guards = true;
    for (size_t i = 0; i < sizeof bytes; ++i)
        if ((i < 8 || i >= 18) && bytes[i] != 0xA5)
            guards = false;
    check("HB-DSP-002", part.status == int64_t(hb::status::success) && part.value == sizeof r && guards,
          "info into a 10-byte buffer writes exactly 10 bytes and returns the full size");
    if (at_boot) {
        line mode;
        mode.put("generation ").dec(r.generation).put(", ").dec(r.width).put('x').dec(r.height);
        check("HB-DSP-003", r.generation == 1 && r.width >= 320 && r.height >= 200, "the boot mode has generation 1 "
              "and at least 320x200", mode.c_str());
    }
}

}  // namespace

// The policy's rate limit on present (spec 2.1 step 6, 5.8): after a second
// with no present, a burst of R + 1 valid presents made within a second gets R
// let through and AGAIN for the last; a second after the first, one is let
// through again. With no limit, nothing to see here.
void check_rate_limit(const hb::abi::dsp_present& record)
{
    const uint64_t rate = present_rate();
    if (rate == 0)
        return;  // the base image says whether any limit is set
    if (rate > 2000) {
        not_tested("HB-BASE-011", "the rate limit on DSP.present",
                   "a limit above 2000 presents a second cannot be reached reliably by this image");
        return;
    }
    const uint64_t quiet_until = now() + 1'100'000'000;
    while (now() < quiet_until) {
    }
    uint64_t let_through = 0, first_at = 0, last_status = 0;
    const uint64_t start = now();
    for (uint64_t i = 0; i <= rate; ++i) {
        const raw_result r = raw_call(fn::dsp_present, 0, uint64_t(&record));
        if (i == 0)
            first_at = now();
        if (r.status == 0)
            ++let_through;
        last_status = uint64_t(r.status);
    }
    const uint64_t took = now() - start;
    if (took >= 900'000'000) {
        not_tested("HB-BASE-011", "the rate limit on DSP.present",
                   "the burst of presents took most of a second on this host; too slow to reach the limit");
        return;
    }
    line why;
    why.dec(let_through).put(" of ").dec(rate + 1).put(" let through in ").dec(took / 1000).put(" us, the last ").put(
        hb::abi::status_name(hb::status(int64_t(last_status))));
    check("HB-BASE-011", let_through == rate && int64_t(last_status) == int64_t(hb::status::again),
          line().put("a burst of ").dec(rate + 1).put(" presents within a second: ").dec(rate)
              .put(" let through (the limit), the last AGAIN").c_str(),
          why.c_str());
    while (now() < first_at + 1'010'000'000) {
    }
    const raw_result later = raw_call(fn::dsp_present, 0, uint64_t(&record));
    check("HB-BASE-011", later.status == 0, "a present a second after the burst's first is let through again",
          hb::abi::status_name(hb::status(later.status)));
}

void run_checks()
{
    if (!advertises(hb::abi::service::dsp)) {
        for (const char* req : every_requirement)
            skip(req, "DSP", "not advertised: the host's discovery does not list DSP");
        return;
    }
    const auto count = dsp::count();
    check("HB-DSP-001", count.ok() && dsp::count().value == count.value, "count returns SUCCESS, the same twice");
    if (!count.ok() || count.value == 0) {
        for (const char* req : every_requirement)
            not_tested(req, "DSP's checks need a display",
                       "the host offers DSP with no display; give it one, e.g. hbvm --display none");
        return;
    }
    for (uint16_t d = 0; d < count.value && d < 4; ++d)
        check_info(d, true);
    // The largest modes, for the driver to compare with a profile's limit (HB-GEN-008).
    for (uint16_t d = 0; d < count.value && d < 4; ++d) {
        dsp::info_record largest{};
        if (dsp::info(d, largest).ok()) {
            info(line().put("dsp-").dec(d).put("-max-width").c_str(), largest.max_width);
            info(line().put("dsp-").dec(d).put("-max-height").c_str(), largest.max_height);
        }
    }

    // set_mode: generation + 1, info follows, past the maximum refused and nothing changed.
    dsp::info_record boot{};
    (void)dsp::info(0, boot);
    const auto mode = dsp::set_mode(0, width, height);
    check("HB-DSP-004", mode.ok() && mode.value == boot.generation + 1, "set_mode 64x48 returns the next generation");
    dsp::info_record after{};
    (void)dsp::info(0, after);
    check("HB-DSP-004", after.width == width && after.height == height && after.generation == mode.value,
          "info reports the new mode and generation");
    const uint32_t generation = uint32_t(mode.value);
    if (after.max_width < 0xFFFF) {
        const raw_result wider = raw_call(uint64_t(fn::dsp_set_mode), 0, after.max_width + 1, height);
        check("HB-DSP-004", wider.status == int64_t(hb::status::invalid_param) && wider.value == 0,
              "set_mode one pixel wider than max_width is INVALID_PARAM");
        dsp::info_record still{};
        (void)dsp::info(0, still);
        check("HB-DSP-004", still.generation == generation && still.width == width, "... and leaves the mode");
    }
    check("HB-DSP-005",
          dsp::set_mode(0, 1, 1).ok() && dsp::set_mode(0, uint16_t(after.max_width), uint16_t(after.max_height)).ok() &&
              dsp::set_mode(0, width, height).ok(),
          "set_mode takes 1x1 as well as the largest mode info reports");
    const uint32_t current = uint32_t(dsp::info(0, after).ok() ? after.generation : 0);

    // The picture, in two rectangles, then a scribble the host must not show.
    for (uint32_t y = 0; y < height; ++y)
        for (uint32_t x = 0; x < width; ++x)
            framebuffer[y * (stride / 4) + x] = picture[y * (stride / 4) + x] = pattern(x, y);
    for (uint32_t& p : wrong)
        p = 0x00FF00FF;
    const hb::abi::dsp_present left = frame(current, 0, 0, width / 2, height);
    const hb::abi::dsp_present right = frame(current, width / 2, 0, width / 2, height);
    const uint64_t presented_at = now();
    check("HB-DSP-006", present(uint64_t(&left)).status == 0 && present(uint64_t(&right)).status == 0,
          "two presents of the picture's halves return SUCCESS");
    for (uint32_t& p : framebuffer)
        p = 0x0000FF00;  // the host copied the rectangles: this must not show

    // Refusals change nothing (HB-DSP-007, HB-DSP-008): each with the scribbled buffer.
    struct refusal {
        hb::abi::dsp_present record;
        hb::status expected;
        const char* what;
    };
    hb::abi::dsp_present reserved = frame(current, 0, 0, 8, 8, wrong);
    reserved.reserved0 = 1;
    hb::abi::dsp_present bad_format = frame(current, 0, 0, 8, 8, wrong);
    bad_format.format = 2;
    const refusal refusals[] = {
        {frame(current - 1, 0, 0, 8, 8, wrong), hb::status::invalid_param, "a present of an older generation"},
        {frame(current, 0, 0, 0, 8, wrong), hb::status::invalid_param, "an empty rectangle"},
        {frame(current, width - 4, 0, 8, 8, wrong), hb::status::invalid_param, "a rectangle past the mode's width"},
        {frame(current, 0, height - 4, 8, 8, wrong), hb::status::invalid_param, "a rectangle past the mode's height"},
        {frame(current, 0, 0, 8, 8, wrong, 8 * 4 - 4), hb::status::invalid_param, "a stride shorter than a row"},
        {frame(current, 0, 0, 8, 8, wrong, 8 * 4 + 2), hb::status::invalid_param, "a stride not a multiple of 4"},
        {reserved, hb::status::invalid_param, "reserved0 set"},
        {bad_format, hb::status::invalid_param, "a format the display does not offer"},
    };
    for (const refusal& r : refusals) {
        line what;
        what.put(r.what).put(" is ").put(hb::abi::status_name(r.expected));
        const raw_result got = present(uint64_t(&r.record));
        line why;
        why.put("status ").put(hb::abi::status_name(hb::status(got.status)));
        check("HB-DSP-008", got.status == int64_t(r.expected) && got.value == 0, what.c_str(), why.c_str());
    }
    // The rows, and only the rows: at the end of RAM, one row that ends exactly
    // there is read; the row after it would lie outside.
    if (ram_end > 2 * stride) {
        const uint64_t last_row = ram_end - uint64_t(width) * 4;
        hb::abi::dsp_present at_end{last_row, stride, hb::abi::dsp_format::xrgb8888, current, 0, 0, width, 1, 0};
        // A row that is not the picture's: it must not show, so present it into
        // the mode and then the picture again over it.
        check("HB-DSP-007", present(uint64_t(&at_end)).status == 0,
              "a one-row rectangle ending exactly at the end of RAM is SUCCESS: the host reads that row, not a stride beyond");
        at_end.height = 2;
        const raw_result two = present(uint64_t(&at_end));
        check("HB-DSP-008", two.status == int64_t(hb::status::invalid_address),
              "the same with a second row outside RAM is INVALID_ADDRESS");
        // Put the picture's first row back (the host read the end of RAM into it).
        for (uint32_t x = 0; x < width; ++x)
            wrong[x] = pattern(x, 0);
        const hb::abi::dsp_present fix = frame(current, 0, 0, width, 1, wrong);
        (void)present(uint64_t(&fix));
    }
    emit(line().put("EXPECT-PLACE HB-DSP-006 screenshot pattern 64 48"));

    // Pacing (HB-DSP-009), source 33 and ready (HB-DSP-010), next_event (HB-DSP-011):
    // from here on every present shows the picture again, so the screenshot holds.
    const hb::abi::dsp_present again = frame(current, 0, 0, width / 2, height, picture);
    hb::abi::dsp_event first{};
    const bool came = wait_presented(2'000'000'000, first);
    const uint64_t first_at = now();
    dsp::info_record info{};
    (void)dsp::info(0, info);
    const uint64_t period = info.refresh_mhz ? 1'000'000'000'000ull / info.refresh_mhz : 1'000'000'000ull / 60;
    {
        line why;
        // By the event's own time: a slow guest (an emulating KVM) may look late.
        why.put("shown ").dec((first.time_ns - presented_at) / 1000).put(" us after the first present, a = ")
            .dec(first.a);
        check("HB-DSP-009", came && first.a >= 1 && first.generation == current &&
                                first.time_ns - presented_at <= 2 * period + 100'000'000,
              "a presented event follows the presents within two periods and 100 ms", why.c_str());
        check("HB-DSP-011", came && first.time_ns >= presented_at && first.time_ns <= first_at,
              "the event's time_ns is a monotonic reading between the present and its arrival");
    }
    hb::abi::dsp_event second{};
    (void)present(uint64_t(&again));
    const bool came_again = wait_presented(2'000'000'000, second);
    {
        line why;
        why.put(came_again ? "" : "no second event; ").put("apart ").dec((second.time_ns - first.time_ns) / 1000)
            .put(" us, period ").dec(period / 1000).put(" us");
        check("HB-DSP-009", came_again && second.time_ns + 2'000'000 >= first.time_ns + period,
              "two presented events are at least one refresh period apart", why.c_str());
    }
    hb::abi::dsp_event none{};
    check("HB-DSP-011", dsp::next_event(0, none).ok() && dsp::next_event(0, none).value == 0,
          "next_event on an empty queue is SUCCESS with 0");
    const uint64_t pending_before = hb::evt::poll().value_or(0);
    (void)present(uint64_t(&again));
    hb::abi::dsp_event third{};
    const uint64_t until = now() + 2'000'000'000;
    while (!(hb::evt::poll().value_or(0) & hb::evt::bit(hb::abi::evt_source::dsp_ready)) && now() < until)
        (void)hb::evt::wait(until, hb::evt::bit(hb::abi::evt_source::dsp_ready));
    const uint64_t ready = dsp::ready(0).value_or(0);
    const bool pending = hb::evt::poll().value_or(0) & hb::evt::bit(hb::abi::evt_source::dsp_ready);
    const size_t taken = drain(third);
    const bool cleared = !(hb::evt::poll().value_or(0) & hb::evt::bit(hb::abi::evt_source::dsp_ready)) &&
                         dsp::ready(0).value_or(1) == 0;
    check("HB-DSP-010", !(pending_before & hb::evt::bit(hb::abi::evt_source::dsp_ready)) && pending && (ready & 1) &&
                            taken >= 1 && cleared,
          "source 33 and ready's bit are set while display 0 has an event, clear once it is taken");
    check_status("HB-DSP-010", dsp::ready(64), hb::status::success, "ready of the window from 64 is SUCCESS");
    check_status("HB-DSP-010", hb::result<uint64_t>{hb::status(raw_call(fn::dsp_ready, 1).status), 0},
                 hb::status::invalid_param, "ready of a window that is no multiple of 64 is INVALID_PARAM");

    // A full queue: presents a period apart, nothing read, for 80 periods.
    for (int i = 0; i < 80; ++i) {
        (void)present(uint64_t(&again));
        const uint64_t next = now() + period + period / 4;
        while (now() < next)
            (void)hb::evt::wait(next, 0);
    }
    hb::abi::dsp_event last{};
    const size_t queued = drain(last);
    {
        line why;
        why.dec(queued).put(" events, the last of type ").dec(last.type).put(" counting ").dec(last.a);
        const bool overflowed = last.type == hb::abi::dsp_event_type::overflow;
        check("HB-DSP-012", queued >= 16 && queued <= 80 && (queued == 80 || (overflowed && last.a >= 1)),
              "80 presented events into the queue: all of them, or the queue's bound with an overflow event last",
              why.c_str());
    }
    check_rate_limit(again);
    (void)hb::evt::set_mask(~uint64_t(0));
}

}  // namespace conformance
