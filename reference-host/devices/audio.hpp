// An output stream (AUD, spec chapter 17): its state (closed, playing,
// draining, drained), its bounded queue of PCM frames, and a player thread
// that takes frames from the queue at the stream's rate — silence when the
// queue is empty, counted as an underrun — and hands them to the back end:
//   wav:PATH   a WAV file, written at the pace a sound card plays (pace=real,
//              the default) or as fast as frames come (pace=fast, for tests
//              that need no pacing; the file says so in a LIST/INFO comment)
//   none       frames leave at the pace and go nowhere
//   sdl        a sound card through SDL2 (the module hbvm-sdl.so, loaded only
//              then), which pulls frames at its own pace (audio_output.hpp)
// The AUD service module (services/aud.cpp) serves the calls. Shared between
// the vCPU (calls) and the player thread; every member function takes the
// stream's lock.
#ifndef HBVM_DEVICES_AUDIO_HPP
#define HBVM_DEVICES_AUDIO_HPP

#include "devices/audio_output.hpp"
#include "devices/device.hpp"

#include <hyperbios/abi.hpp>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace hbvm {

namespace abi = hyperbios::abi;

class audio : public device, private audio_source {
public:
    struct settings {
        std::string name;       // 1-32 bytes, distinct within the machine
        std::string wav;        // the WAV file's path, or "" for none
        bool paced = true;      // pace=real (true) or fast
        // A pulling output (sdl: the module's), or empty for the player's pace.
        std::function<std::unique_ptr<audio_output>(audio_source&)> open_output;
        uint32_t min_queue_frames = 64, max_queue_frames = 96000;
        uint32_t tick_ms = 5;   // how often the player takes frames
        device_settings given;
    };

    audio(settings s, device_host host);
    ~audio() override;
    audio(const audio&) = delete;
    audio& operator=(const audio&) = delete;

    const settings& config() const { return settings_; }
    abi::aud_info info() const;

    // The spec's calls: false for INVALID_PARAM.
    // `rate`: an abi::aud_rate value.
    bool open(uint16_t format, uint16_t rate, uint32_t queue_frames, uint32_t& chosen);
    // Takes whole frames from `data`; the bytes taken (0 with a full queue),
    // or -1 when the stream is not playing or the length is not whole frames.
    int64_t write(std::span<const std::byte> data);
    abi::aud_state state() const;
    bool set_low_water(uint32_t frames);
    bool drain();
    void close();
    bool ready() const;

    // Every stream closed (spec 17.13).
    void reset() { close(); }

    // What is called, without the lock, when the stream may have become ready.
    void set_ready_handler(std::function<void()> handler);

    void take_faults(const fault_injector& faults) override;
    void run_ended() override;

private:
    // audio_source, for a pulling output (on its thread).
    void pull(std::span<std::byte> out) override;
    const std::string& name() const override { return settings_.name; }
    void note(const std::string& line) override;

    void play();                       // the player thread
    // The frames due by `now_ns` at the stream's rate (the player's pace).
    uint64_t due_locked(uint64_t now_ns) const;
    // `due` frames leave the stream into `out`; true when it became ready.
    bool take_locked(uint64_t due, std::vector<std::byte>& out);
    bool ready_locked() const;
    bool update_ready_locked();
    void notify_ready();
    // The WAV back end: bytes for the file, written without ever blocking the
    // player (a FIFO whose reader stalls holds at most a second of sound, the
    // rest is dropped and counted), sizes filled in at each run's end when
    // the file can seek (a FIFO gets a streamed header instead).
    struct wav_sink {
        int fd = -1;
        bool seekable = false;
        uint16_t format = 0;
        uint32_t rate = 0;
        uint64_t data_bytes = 0, data_offset = 0, dropped_bytes = 0;
        size_t header_left = 0;      // the header's bytes still in pending, at its front
        uint64_t data_written = 0;   // the sound's bytes that reached the file
        std::vector<std::byte> pending;
        size_t pending_limit = 0;
    };
    void start_wav_locked(bool paced);
    void hold_for_sink(const std::vector<std::byte>& out);  // under lock_
    void write_pending();  // the player, without the lock
    void written_locked(size_t done);
    void finish_wav_locked();

    settings settings_;
    device_host host_;
    struct {
        bool position_ahead = false, queue_unbounded = false, underruns_uncounted = false, drain_drops = false,
             samples_dropped = false, drained_silent = false;
    } deviate_;  // --inject-fault only
    mutable std::mutex lock_;
    std::condition_variable wake_;
    bool quitting_ = false;
    uint16_t state_ = abi::aud_stream_state::closed;
    uint16_t format_ = 0;
    uint32_t rate_ = 0, queue_frames_ = 0, low_water_ = 0;
    size_t frame_size_ = 0;
    std::vector<std::byte> queue_;     // a ring of queue_frames_ * frame_size_ bytes
    size_t head_ = 0, queued_ = 0;     // in frames
    uint64_t position_ = 0, underruns_ = 0;
    bool played_since_open_ = false, in_underrun_ = false;
    uint64_t opened_ns_ = 0, taken_ = 0;  // frames taken (guest's and silence) since open
    bool was_ready_ = false;  // ready_locked() as of the last change: a change to ready is announced
    std::mutex handler_lock_;
    std::function<void()> on_ready_;
    wav_sink wav_;
    std::mutex wav_lock_;  // guards wav_.fd's writes and wav_'s fields against the vCPU's open
    std::unique_ptr<audio_output> output_;  // sdl: the module's
    bool pulled_ = false;                    // the output pulls (it started), the player does not pace
    std::vector<std::byte> pulled_frames_;   // pull's, reused: no allocation on the sound thread
    std::thread player_;
};

device_class audio_device_class();

}  // namespace hbvm

#endif
