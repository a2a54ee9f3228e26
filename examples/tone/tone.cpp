// tone: plays a short melody on AUD stream 0 (the opening of Beethoven's Ode
// to Joy), or with `hz=` or `seconds=` a steady sine tone — 440 Hz for 5 s by
// default — at half of full scale, s16 stereo at 48 kHz. It refills the
// stream's queue whenever it is ready (room above the low-water mark) and
// sleeps in EVT.wait in between, then drains it and prints what state() says:
//
//     hbvm run build/examples/tone/tone.elf --audio sdl         # the sound card
//     hbvm run build/examples/tone/tone.elf --audio wav:tune.wav
//     play tune.wav        # sox; or aplay, or any player
//     hbvm run build/examples/tone/tone.elf --audio wav:a.wav -- hz=440 seconds=5
//
// `report=1` prints the stream's position and its time once a second ("tone:
// position P at T ns"). Exit 0 when the stream played every frame with no
// underrun, 1 otherwise, 2 without a sound output.
#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>

namespace hb = hyperbios;
namespace aud = hyperbios::aud;

namespace {

constexpr uint32_t rate = 48000;
constexpr uint32_t queue_frames = 9600;  // 200 ms
constexpr uint32_t chunk_frames = 2400;  // refilled 50 ms at a time

// sin(i * pi / 128) * 32767, i = 0..64: a quarter wave; no floating point in a kernel.
constexpr int16_t quarter[65] = {
    0, 804, 1608, 2410, 3212, 4011, 4808, 5602, 6393, 7179, 7962, 8739, 9512, 10278, 11039, 11793, 12539,
    13279, 14010, 14732, 15446, 16151, 16846, 17530, 18204, 18868, 19519, 20159, 20787, 21403, 22005, 22594,
    23170, 23731, 24279, 24811, 25329, 25832, 26319, 26790, 27245, 27683, 28105, 28510, 28898, 29268, 29621,
    29956, 30273, 30571, 30852, 31113, 31356, 31580, 31785, 31971, 32137, 32285, 32412, 32521, 32609, 32678,
    32728, 32757, 32767};

// The sine of a phase (the full circle is 2^32), from the table.
int32_t sine(uint32_t phase)
{
    const uint32_t index = phase >> 24;  // 256 steps a circle
    const uint32_t in_quarter = index & 63, quadrant = index >> 6;
    const int32_t v = quadrant & 1 ? quarter[64 - in_quarter] : quarter[in_quarter];
    return quadrant & 2 ? -v : v;
}

// A note: its frequency in hundredths of a hertz, its length in frames.
struct note {
    uint32_t centihertz;
    uint32_t frames;
};
constexpr uint32_t E4 = 32963, F4 = 34923, G4 = 39200, D4 = 29366, C4 = 26163;
constexpr uint32_t eighth = rate * 18 / 100;  // 180 ms: a quarter note at 167 beats a minute
constexpr note ode_to_joy[] = {{E4, 2 * eighth}, {E4, 2 * eighth}, {F4, 2 * eighth}, {G4, 2 * eighth},
                               {G4, 2 * eighth}, {F4, 2 * eighth}, {E4, 2 * eighth}, {D4, 2 * eighth},
                               {C4, 2 * eighth}, {C4, 2 * eighth}, {D4, 2 * eighth}, {E4, 2 * eighth},
                               {E4, 3 * eighth}, {D4, eighth},     {D4, 4 * eighth}};
// Each note of the melody fades in and out over 5 ms, so that two notes of one
// pitch are heard as two (and no step in the wave clicks).
constexpr uint32_t fade_frames = rate / 200;

// The wave the stream plays: notes one after another, each a sine.
struct voice {
    const note* notes;
    size_t count;
    bool fades;
    size_t index = 0;
    uint64_t frames_in_note = 0, frame = 0;  // the current note's length, and where in it
    uint32_t phase = 0, step = 0;

    uint64_t total_frames() const
    {
        uint64_t total = 0;
        for (size_t i = 0; i < count; ++i)
            total += notes[i].frames;
        return total;
    }
    // The next frame's sample, at half of full scale.
    int16_t next()
    {
        while (frame == frames_in_note && index < count) {
            frames_in_note = notes[index].frames;
            step = uint32_t((uint64_t(notes[index].centihertz) << 32) / (uint64_t(rate) * 100));
            frame = 0, ++index;
        }
        int32_t v = sine(phase) / 2;
        if (fades) {
            const uint64_t edge = frame < frames_in_note - frame ? frame : frames_in_note - 1 - frame;
            if (edge < fade_frames)
                v = int32_t(int64_t(v) * int64_t(edge) / fade_frames);
        }
        phase += step, ++frame;
        return int16_t(v);
    }
};

hb::boot::boot_info boot;
int16_t chunk[chunk_frames * 2];

uint64_t number(const char* text, uint64_t fallback)
{
    if (!text)
        return fallback;
    uint64_t n = 0;
    for (; *text >= '0' && *text <= '9'; ++text)
        n = n * 10 + uint64_t(*text - '0');
    return n;
}

[[noreturn]] void end(uint8_t code)
{
    (void)hb::power::shutdown(code);
    hb::fallback::power_off_emulator(code);
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    boot.read(magic, info);
    if (!hb::detect().has_service(hb::abi::service::aud) || aud::count().value_or(0) == 0) {
        hb::print("tone: this machine has no sound output (give hbvm one: --audio wav:tone.wav)\n");
        end(2);
    }
    const auto& args = boot.arguments();
    const bool melody = !args.value("hz") && !args.value("seconds");
    const uint64_t seconds = number(args.value("seconds"), 5);
    const uint64_t hz = number(args.value("hz"), 440);
    if (!melody && (seconds == 0 || seconds > 86400 || hz == 0 || hz > rate / 2)) {
        hb::printf("tone: give seconds=1..86400 and hz=1..%u\n", unsigned(rate / 2));
        end(1);
    }
    // A steady tone is one long note.
    const note steady{uint32_t(hz * 100), uint32_t(seconds * rate)};
    voice wave = melody ? voice{ode_to_joy, sizeof ode_to_joy / sizeof ode_to_joy[0], true}
                        : voice{&steady, 1, false};
    const auto opened = aud::open(0, hb::abi::aud_format::s16_stereo, hb::abi::aud_rate::hz_48000, queue_frames);
    if (!opened.ok()) {
        hb::printf("tone: the stream did not open (status %d)\n", int(opened.code));
        end(1);
    }
    // Ready while the queue has room for a chunk.
    (void)aud::set_low_water(0, uint32_t(opened.value) > chunk_frames ? uint32_t(opened.value) - chunk_frames : 0);
    const uint64_t total = wave.total_frames();
    uint64_t written = 0;
    const bool report = number(args.value("report"), 0) != 0;
    uint64_t next_report = 0;
    size_t pending = 0, offset = 0;  // frames of `chunk` not yet taken
    while (written < total) {
        if (report && hb::time::monotonic_ns().value_or(0) >= next_report) {
            aud::state_record now{};
            (void)aud::state(0, now);
            hb::printf("tone: position %llu at %llu ns\n", (unsigned long long)now.position,
                       (unsigned long long)now.time_ns);
            next_report = now.time_ns + 1'000'000'000;
        }
        if (pending == 0) {
            const uint64_t frames = total - written < chunk_frames ? total - written : chunk_frames;
            for (uint64_t i = 0; i < frames; ++i)
                chunk[2 * i] = chunk[2 * i + 1] = wave.next();
            pending = size_t(frames), offset = 0;
        }
        const auto r = aud::write(0, chunk + 2 * offset, pending * 4);
        if (r.ok()) {
            pending -= r.value / 4, offset += r.value / 4, written += r.value / 4;
            continue;
        }
        if (r.code != hb::status::again) {
            hb::printf("tone: write failed (status %d)\n", int(r.code));
            end(1);
        }
        (void)hb::evt::wait(hb::evt::no_deadline, hb::evt::bit(aud::source));  // sleep until there is room
    }
    (void)aud::drain(0);
    aud::state_record s{};
    do {
        (void)hb::evt::wait(hb::evt::no_deadline, hb::evt::bit(aud::source));
        (void)aud::state(0, s);
    } while (s.state != hb::abi::aud_stream_state::drained);
    if (melody)
        hb::printf("tone: %llu frames of the melody played, %llu underruns\n", (unsigned long long)s.position,
                   (unsigned long long)s.underruns);
    else
        hb::printf("tone: %llu frames of %llu Hz played, %llu underruns\n", (unsigned long long)s.position,
                   (unsigned long long)hz, (unsigned long long)s.underruns);
    end(s.position == total && s.underruns == 0 ? 0 : 1);
}
