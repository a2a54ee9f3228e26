// AUD service (spec chapter 17): count and info; open and its queue's clamp;
// write that takes whole frames up to the queue's room, AGAIN when full; the
// low-water mark and readiness on source 36; the position following the wall
// clock while the queue is kept filled, and an underrun counted once it runs
// dry; drain; close. (What reaches the back end — the frames in order and the
// pace of a WAV file — is the {audio0} place's, judged by the driver.)
#include "image.hpp"

HYPERBIOS_CONFORM_NEEDS(audio0, "HB-AUD-004,HB-AUD-006,HB-AUD-008");

namespace conformance {

namespace {

namespace aud = hb::aud;
using fn = hb::abi::function;

const char* const every_requirement[] = {"HB-AUD-001", "HB-AUD-002", "HB-AUD-003", "HB-AUD-004", "HB-AUD-005",
                                         "HB-AUD-006", "HB-AUD-007", "HB-AUD-008", "HB-AUD-009", "HB-AUD-010"};

constexpr uint64_t source = hb::evt::bit(hb::abi::evt_source::aud_ready);
constexpr uint32_t rate = 48000;
uint64_t now() { return hb::time::monotonic_ns().value_or(0); }

// The pattern: frame n is n mod 32767 + 1 on the left channel and its negation
// on the right (so that no frame of it is silence). The buffer holds a whole
// period and one write's worth more, computed once, so that a write of frames
// n.. starts at n mod 32767 and costs the guest nothing but the call: a slow
// guest (the nested lane's, every instruction emulated) must still keep the
// queue filled.
constexpr uint32_t period = 32767;
constexpr uint32_t write_frames = 16384;  // the most one write offers
int16_t patterns[2 * (period + write_frames)];
uint32_t next_frame;  // the pattern's next frame number

void make_pattern()
{
    for (uint32_t i = 0; i < period + write_frames; ++i) {
        const int16_t v = int16_t(1 + (i < period ? i : i - period));
        patterns[2 * i] = v, patterns[2 * i + 1] = int16_t(-v);
    }
}

// The next `count` frames of the pattern (count <= write_frames).
const int16_t* pattern() { return &patterns[2 * (next_frame % period)]; }

// A queue of `want` frames, clamped to the stream's limits.
uint32_t clamp_queue(const aud::info_record& info, uint32_t want)
{
    return want > info.max_queue_frames ? info.max_queue_frames : want < info.min_queue_frames ? info.min_queue_frames : want;
}

aud::state_record state()
{
    aud::state_record s{};
    (void)aud::state(0, s);
    return s;
}

// Writes the pattern until `count` frames were taken, sleeping on source 36
// when the queue is full; false when a write failed otherwise.
bool feed(uint32_t count, uint64_t deadline)
{
    while (count && now() < deadline) {
        const uint32_t n = count < write_frames ? count : write_frames;
        const auto r = aud::write(0, pattern(), uint64_t(n) * 4);
        if (r.ok()) {
            next_frame += uint32_t(r.value / 4);
            count -= uint32_t(r.value / 4);
        } else if (r.code == hb::status::again) {
            (void)hb::evt::wait(deadline, source);
        } else {
            return false;
        }
    }
    return count == 0;
}

}  // namespace

void run_checks()
{
    if (!advertises(hb::abi::service::aud)) {
        for (const char* req : every_requirement)
            skip(req, "AUD", "not advertised: the host's discovery does not list AUD");
        return;
    }
    const auto count = aud::count();
    check("HB-AUD-001", count.ok() && aud::count().value == count.value, "count returns SUCCESS, the same twice");
    aud::info_record info{};
    for (uint16_t d = 0; count.ok() && d < count.value && d < 8; ++d) {
        const auto got = aud::info(d, info);
        check("HB-AUD-002",
              got.ok() && got.value == sizeof info && info.size == sizeof info && info.version >= 1 &&
                  info.reserved0 == 0 && info.reserved1 == 0 &&
                  (info.formats >> hb::abi::aud_format::s16_stereo & 1) &&
                  (info.rates >> hb::abi::aud_rate::hz_44100 & 1) && (info.rates >> hb::abi::aud_rate::hz_48000 & 1) &&
                  info.min_queue_frames >= 1 && info.min_queue_frames <= info.max_queue_frames &&
                  info.max_queue_frames >= 4800 && info.name[0] != 0,
              "info returns a record within its rules: s16 stereo at 44.1 and 48 kHz, queue limits");
    }
    if (!count.ok() || count.value == 0) {
        for (size_t i = 2; i < sizeof every_requirement / sizeof every_requirement[0]; ++i)
            not_tested(every_requirement[i], "AUD's checks need a stream",
                       "give the host one, e.g. hbvm --audio none");
        return;
    }
    (void)aud::info(0, info);
    make_pattern();

    // open: the queue's length clamped to the limits; closed first.
    const auto least = aud::open(0, hb::abi::aud_format::s16_stereo, hb::abi::aud_rate::hz_48000, 0);
    check("HB-AUD-003", least.ok() && least.value == info.min_queue_frames, "open with a queue of 0 gets min_queue_frames");
    const auto most = aud::open(0, hb::abi::aud_format::s16_stereo, hb::abi::aud_rate::hz_48000, 0xFFFFFFFF);
    check("HB-AUD-003", most.ok() && most.value == info.max_queue_frames, "open with a huge queue gets max_queue_frames");
    // A short queue (200 ms) for the write checks, so that one write offers
    // more than it holds.
    const uint32_t queue = clamp_queue(info, 9600);
    const auto opened = aud::open(0, hb::abi::aud_format::s16_stereo, hb::abi::aud_rate::hz_48000, queue);
    aud::state_record s = state();
    check("HB-AUD-003", opened.ok() && opened.value == queue && s.state == hb::abi::aud_stream_state::playing &&
                            s.position == 0 && s.underruns == 0 && s.queued_frames == 0,
          "open starts the stream playing, empty, at position 0, with no underrun");
    check("HB-AUD-005", s.format == hb::abi::aud_format::s16_stereo && s.rate == rate && s.queue_frames == queue &&
                            s.low_water == queue / 2 && s.reserved0 == 0 && s.time_ns <= now(),
          "state reports the format, rate, queue and low-water mark open set");

    // write: whole frames only; up to the queue's room; AGAIN when full.
    const raw_result odd = raw_call(uint64_t(fn::aud_write), 0, uint64_t(pattern()), 6);
    check_value("HB-AUD-004", uint64_t(odd.status), uint64_t(hb::status::invalid_param),
                "write of 6 bytes (a frame and a half) is INVALID_PARAM");
    // More than the queue holds, in one call: whole frames, no more than fit.
    const auto big = aud::write(0, pattern(), uint64_t(write_frames) * 4);
    if (big.ok())
        next_frame += uint32_t(big.value / 4);
    check("HB-AUD-004", big.ok() && big.value % 4 == 0 && big.value >= 4 && big.value <= uint64_t(queue) * 4,
          "a write of more frames than the queue holds takes whole frames, at least one, no more than fit");
    // Then again until AGAIN: a guest that writes faster than the stream plays
    // sees it; one slower than the rate (every instruction emulated) may not.
    hb::status last = hb::status::success;
    for (unsigned tries = 0; tries < 256 && last == hb::status::success; ++tries) {
        const auto r = aud::write(0, pattern(), uint64_t(write_frames) * 4);
        last = r.code;
        if (r.ok()) {
            next_frame += uint32_t(r.value / 4);
            check("HB-AUD-004", r.value % 4 == 0 && r.value > 0, "write takes whole frames, at least one");
        }
    }
    s = state();
    if (last == hb::status::again)
        check("HB-AUD-004", s.queued_frames <= queue, "once the queue is full write answers AGAIN");
    else
        note("write never found the queue full in 256 tries: this guest writes slower than the stream plays");
    check("HB-AUD-008", s.queued_frames <= s.queue_frames, "the queue does not grow past its length");

    // Opened again with a queue of a second (or the longest there is), so that
    // the checks of readiness and pace leave a slow guest half a second to act
    // between a refill and the check that follows it.
    const uint32_t long_queue = clamp_queue(info, rate);
    const auto reopened = aud::open(0, hb::abi::aud_format::s16_stereo, hb::abi::aud_rate::hz_48000, long_queue);
    const uint32_t opened_at = next_frame;
    s = state();
    check("HB-AUD-003", reopened.ok() && reopened.value == long_queue && s.position == 0 && s.queued_frames == 0 &&
                            s.underruns == 0 && s.low_water == long_queue / 2,
          "open of a playing stream closes it first: it starts again empty, at position 0");

    // Not ready while more than the mark is queued: filled, then asked at once.
    (void)feed(long_queue - long_queue / 4, now() + 5'000'000'000);
    s = state();
    check("HB-AUD-007", s.queued_frames > s.low_water && !(aud::ready(0).value_or(1) & 1) &&
                            !(hb::evt::poll().value_or(0) & source),
          "with the queue above the low-water mark the stream is not ready and source 36 is not pending");

    // Ready once the queue drains to the mark.
    const uint64_t deadline = now() + 5'000'000'000;
    while (!(aud::ready(0).value_or(0) & 1) && now() < deadline)
        (void)hb::evt::wait(deadline, source);
    s = state();
    check("HB-AUD-007", (aud::ready(0).value_or(0) & 1) && (hb::evt::poll().value_or(0) & source) &&
                            s.queued_frames <= long_queue / 2,
          "the stream becomes ready, with source 36 pending, once no more than the mark is queued");
    // The mark moved below what is queued: not ready; a mark past the queue
    // is clamped to its length - 1, and with it the stream is ready again.
    (void)feed(long_queue / 4, now() + 2'000'000'000);
    const bool set_low = aud::set_low_water(0, 0).ok();
    s = state();
    check("HB-AUD-007", set_low && s.low_water == 0 && s.queued_frames > 0 && !(aud::ready(0).value_or(1) & 1) &&
                            !(hb::evt::poll().value_or(0) & source),
          "with the mark set to 0 and frames queued the stream is not ready and source 36 is not pending");
    const bool set_high = aud::set_low_water(0, 0xFFFFFFFF).ok();
    s = state();
    check("HB-AUD-007", set_high && s.low_water == long_queue - 1 && (aud::ready(0).value_or(0) & 1) &&
                            (hb::evt::poll().value_or(0) & source),
          "a mark past the queue is clamped to its length - 1, and the stream is ready below it");
    (void)aud::set_low_water(0, long_queue / 2);

    // The position follows the wall clock while the queue is kept filled; the
    // driver watches the {audio0} file grow meanwhile.
    const uint32_t paced_first = next_frame;
    emit(line().put("MEASURE-PLACE BEGIN audio0"));
    const aud::state_record first = state();
    (void)feed(rate * 2, now() + 5'000'000'000);  // two seconds' worth, refilled on readiness
    const aud::state_record later = state();
    emit(line().put("MEASURE-PLACE END audio0"));
    emit(line().put("EXPECT-PLACE HB-AUD-006 audio0 paced"));
    const uint64_t elapsed = later.time_ns - first.time_ns;
    // Integers only (no floating point in a kernel): frames, and 2 % + 20 ms of them.
    const uint64_t expected = elapsed / 1000 * rate / 1000000;
    const uint64_t played = later.position - first.position;
    const uint64_t allowed = expected / 50 + rate / 50;
    line why;
    why.dec(played).put(" frames in ").dec(elapsed / 1000000).put(" ms, expected ").dec(expected);
    check("HB-AUD-006", played + allowed >= expected && played <= expected + allowed,
          "while the queue is kept filled the position advances at the rate, within 2 % and 20 ms", why.c_str());
    check("HB-AUD-006", later.underruns == 0, "no underrun while the queue is kept filled");
    check("HB-AUD-005", later.position + later.queued_frames == next_frame - opened_at,
          "position and queued frames add up to the frames written since open");

    // Opened again with the short queue: what follows waits for the queue to
    // play out, and a second's queue would make every boot of this image (the
    // mutation test boots it once per fault) a second longer.
    // What the open discards never plays: the driver looks for the frames
    // that played before it.
    const uint64_t played_to = opened_at + state().position;  // the frame number it played up to
    line frames_line;
    frames_line.put("EXPECT-PLACE HB-AUD-008 audio0 frames ").dec(paced_first).put(' ')
        .dec(played_to > paced_first ? played_to - paced_first : 0);
    emit(frames_line);
    (void)aud::open(0, hb::abi::aud_format::s16_stereo, hb::abi::aud_rate::hz_48000, queue);
    const uint32_t short_opened_at = next_frame;
    (void)feed(queue / 2, now() + 2'000'000'000);

    // Left to run dry: one underrun, counted; the stream plays on.
    const aud::state_record fed = state();
    const uint64_t dry = now() + uint64_t(fed.queued_frames) * 1'000'000'000 / rate + 300'000'000;
    while (now() < dry)
        (void)hb::evt::wait(dry, 0);
    s = state();
    check("HB-AUD-006", s.underruns == fed.underruns + 1 && s.state == hb::abi::aud_stream_state::playing &&
                            s.position == next_frame - short_opened_at,
          "a queue run dry is one underrun, counted; the position stops at the frames written");

    // drain: what is queued plays out, then drained and ready; write refused.
    (void)feed(queue / 2, now() + 2'000'000'000);
    check("HB-AUD-009", aud::drain(0).ok(), "drain returns SUCCESS");
    const aud::state_record at_drain = state();
    const uint64_t underruns_at_drain = at_drain.underruns;
    const raw_result refused = raw_call(uint64_t(fn::aud_write), 0, uint64_t(pattern()), 4);
    check_value("HB-AUD-009", uint64_t(refused.status), uint64_t(hb::status::invalid_param),
                "write while draining is INVALID_PARAM");
    // A guest asleep on source 36 is woken once the stream is drained (it was
    // not ready while it drained), not by its deadline.
    const uint64_t waited_from = now();
    const uint64_t until = waited_from + 10'000'000'000;
    do {
        (void)hb::evt::wait(until, source);
        s = state();
    } while (s.state != hb::abi::aud_stream_state::drained && now() < until);
    const uint64_t woken_after = now() - waited_from;
    line late;
    late.put("woken ").dec(woken_after / 1000000).put(" ms after drain with ")
        .dec(uint64_t(at_drain.queued_frames) * 1000 / rate).put(" ms of sound queued");
    check("HB-AUD-007", s.state == hb::abi::aud_stream_state::drained &&
                            woken_after <= uint64_t(at_drain.queued_frames) * 1'000'000'000 / rate + 2'000'000'000,
          "a guest waiting on source 36 wakes when the stream becomes drained", late.c_str());
    check("HB-AUD-009", s.state == hb::abi::aud_stream_state::drained && s.position == next_frame - short_opened_at &&
                            s.underruns == underruns_at_drain &&
                            (aud::ready(0).value_or(0) & 1),
          "once everything queued has left the stream is drained, ready, with no new underrun");

    // close: closed, zeros, not ready.
    check("HB-AUD-010", aud::close(0).ok(), "close returns SUCCESS");
    s = state();
    check("HB-AUD-010", s.state == hb::abi::aud_stream_state::closed && s.format == 0 && s.rate == 0 &&
                            s.queue_frames == 0 && s.queued_frames == 0 && !(aud::ready(0).value_or(1) & 1),
          "a closed stream reports closed with zeros and is not ready");
    const raw_result closed = raw_call(uint64_t(fn::aud_write), 0, uint64_t(pattern()), 4);
    check_value("HB-AUD-004", uint64_t(closed.status), uint64_t(hb::status::invalid_param),
                "write to a closed stream is INVALID_PARAM");
}

}  // namespace conformance
