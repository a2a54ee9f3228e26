// The `--audio sdl` output: an AUD stream played on this machine's sound card
// through SDL2's audio (devices/audio_output.hpp). SDL's audio thread calls
// back for each buffer the card wants, and the callback pulls that many frames
// from the stream: the stream's position is what the card took, at the card's
// pace, not at a clock of hbvm's. SDL_AUDIODRIVER picks the driver (pulseaudio,
// pipewire, alsa; `disk` writes raw PCM into SDL_DISKAUDIOFILE at about the
// card's pace, which is how the tests listen).
#include "sdl_audio.hpp"

#include "core/error.hpp"

#include <SDL.h>

#include <atomic>

namespace {

// A buffer of 1024 frames: about 21 ms at 48 kHz, what SDL's drivers take
// without gaps on a loaded machine, and a latency a game can live with.
constexpr Uint16 buffer_frames = 1024;

class sdl_audio final : public hbvm::audio_output {
public:
    explicit sdl_audio(hbvm::audio_source& source) : source_(source)
    {
        SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");  // hbvm's watchdog owns SIGINT and SIGTERM
        if (SDL_InitSubSystem(SDL_INIT_AUDIO) != 0)
            throw hbvm::error(hbvm::exit_status::host_failure,
                              "--audio sdl: SDL's audio does not start: " + std::string(SDL_GetError()) +
                                  " (SDL_AUDIODRIVER names a driver: pulseaudio, pipewire, alsa, or disk to write "
                                  "a file; or give --audio wav:PATH)");
    }
    ~sdl_audio() override
    {
        stop();
        SDL_QuitSubSystem(SDL_INIT_AUDIO);
    }
    sdl_audio(const sdl_audio&) = delete;
    sdl_audio& operator=(const sdl_audio&) = delete;

    std::string start(unsigned channels, uint32_t rate) override
    {
        stop();
        SDL_AudioSpec want{}, have{};
        want.freq = int(rate);
        want.format = AUDIO_S16LSB;
        want.channels = Uint8(channels);
        want.samples = buffer_frames;
        want.callback = &sdl_audio::callback;
        want.userdata = this;
        // No changes allowed: SDL converts to what the card takes, and the
        // callback always sees the stream's own format and buffer.
        device_ = SDL_OpenAudioDevice(nullptr, 0, &want, &have, 0);
        if (!device_)
            return "SDL cannot open a sound device (" + std::string(SDL_GetError()) + ", driver " +
                   (SDL_GetCurrentAudioDriver() ? SDL_GetCurrentAudioDriver() : "none") + ")";
        // SDL's buffer and the card's own, about one more.
        latency_ns_ = 2 * uint64_t(have.samples) * 1000000000u / rate;
        SDL_PauseAudioDevice(device_, 0);
        return {};
    }

    void stop() override
    {
        if (device_) {
            SDL_CloseAudioDevice(device_);  // waits for a callback in flight
            device_ = 0;
        }
    }

    uint64_t latency_ns() const override { return latency_ns_; }

private:
    static void SDLCALL callback(void* self, Uint8* stream, int length)
    {
        static_cast<sdl_audio*>(self)->source_.pull({reinterpret_cast<std::byte*>(stream), size_t(length)});
    }

    hbvm::audio_source& source_;
    SDL_AudioDeviceID device_ = 0;
    std::atomic<uint64_t> latency_ns_{0};
};

}  // namespace

std::unique_ptr<hbvm::audio_output> open_sdl_audio(const hbvm::device_settings&, hbvm::audio_source& source)
{
    return std::make_unique<sdl_audio>(source);
}
