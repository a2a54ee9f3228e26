// Benchmark guest for bench-audio (bench_audio.py): the latency from AUD.write
// to the frames leaving the back end. Kernel arguments "latency N": opens
// stream 0 (s16 stereo, 48 kHz, a queue of 100 ms), then N times: sleeps
// 100 ms in EVT.wait (the queue runs dry: silence), reads TIME.monotonic_ns
// and writes a burst of 10 ms whose every sample is the round's number (1..N),
// printing "burst R at T". The script reads the WAV back end's FIFO, stamps
// what arrives with the same clock (CLOCK_MONOTONIC) and finds each burst's
// first frame. Ends with "latency-end N" and powers off.
#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>

namespace hb = hyperbios;
namespace aud = hyperbios::aud;

namespace {

constexpr uint32_t burst_frames = 480;  // 10 ms at 48 kHz
int16_t burst[2 * burst_frames];
hb::boot::boot_info boot;

uint64_t now() { return hb::time::monotonic_ns().value_or(0); }

[[noreturn]] void end(uint8_t code)
{
    (void)hb::power::shutdown(code);
    hb::fallback::power_off_emulator(code);
}

uint64_t number(const char* text, uint64_t fallback)
{
    if (!text || *text < '0' || *text > '9')
        return fallback;
    uint64_t n = 0;
    for (; *text >= '0' && *text <= '9'; ++text)
        n = n * 10 + uint64_t(*text - '0');
    return n;
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    boot.read(magic, info);
    const char* text = boot.arguments().text();
    // "latency N": the word, then the count.
    while (text && *text && *text != ' ')
        ++text;
    while (text && *text == ' ')
        ++text;
    const uint64_t rounds = number(text, 20);
    if (aud::count().value_or(0) == 0 || rounds == 0 || rounds > 30000) {
        hb::print("audio_rounds: give --audio and \"latency N\" (N = 1..30000)\n");
        end(2);
    }
    if (!aud::open(0, hb::abi::aud_format::s16_stereo, hb::abi::aud_rate::hz_48000, 4800).ok()) {
        hb::print("audio_rounds: the stream did not open\n");
        end(1);
    }
    for (uint64_t r = 1; r <= rounds; ++r) {
        const uint64_t quiet = now() + 100'000'000;
        while (now() < quiet)
            (void)hb::evt::wait(quiet, 0);
        for (uint32_t i = 0; i < 2 * burst_frames; ++i)
            burst[i] = int16_t(r);
        const uint64_t written_at = now();
        const auto w = aud::write(0, burst, sizeof burst);
        if (!w.ok() || w.value != sizeof burst) {
            hb::printf("audio_rounds: write of round %llu failed (status %d)\n", (unsigned long long)r, int(w.code));
            end(1);
        }
        hb::printf("burst %llu at %llu\n", (unsigned long long)r, (unsigned long long)written_at);
    }
    (void)aud::drain(0);
    hb::printf("latency-end %llu\n", (unsigned long long)rounds);
    end(0);
}
