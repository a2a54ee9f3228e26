// A sound output that keeps its own time (a sound card, through SDL in the
// module hbvm-sdl.so): it pulls frames from the stream when its device wants
// them, on its own thread, so that the stream's position is what the card
// played, not what a clock of hbvm's says it should have. (wav:PATH and none
// are paced by the stream's player thread instead; devices/audio.hpp.)
// Header-only: a back-end module uses it and links nothing of hbvm_core.
#ifndef HBVM_DEVICES_AUDIO_OUTPUT_HPP
#define HBVM_DEVICES_AUDIO_OUTPUT_HPP

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace hbvm {

// The stream's side, for its output; safe on any thread, never blocks on the
// guest.
class audio_source {
public:
    // Fills `out` (whole frames of the stream's format) with the frames that
    // leave the stream now: the guest's while it has queued some, then
    // silence, counted as one underrun once the stream has played.
    virtual void pull(std::span<std::byte> out) = 0;
    // The stream's name ("audio0"), for messages.
    virtual const std::string& name() const = 0;
    // One "hbvm:" line on stderr.
    virtual void note(const std::string& line) = 0;

protected:
    ~audio_source() = default;
};

class audio_output {
public:
    // Stops pulling: returns once no pull runs or will run.
    virtual ~audio_output() = default;
    // The stream was opened: frames of `channels` signed 16-bit little-endian
    // samples (the formats of spec 17.2), `rate` frames a second; pulls start. Returns "" when they did, or what failed
    // (no sound device), in which case the stream is paced by hbvm's clock
    // and its frames go nowhere.
    virtual std::string start(unsigned channels, uint32_t rate) = 0;
    // The stream was closed: pulls stop before this returns.
    virtual void stop() = 0;
    // The time from a frame's pull to its playing, as well as the output knows.
    virtual uint64_t latency_ns() const = 0;
};

}  // namespace hbvm

#endif
