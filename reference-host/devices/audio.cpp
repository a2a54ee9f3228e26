#include "devices/audio.hpp"

#include "core/diagnostics.hpp"
#include "core/error.hpp"
#include "core/fault_injection.hpp"
#include "devices/clock.hpp"
#include "devices/module_loader.hpp"
#include "policy/audit.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hbvm {

namespace {

constexpr uint32_t rate_44100 = 44100, rate_48000 = 48000;

size_t frame_size_of(uint16_t format)
{
    return format == abi::aud_format::s16_stereo ? 4 : format == abi::aud_format::s16_mono ? 2 : 0;
}

void put32(std::vector<std::byte>& out, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        out.push_back(std::byte(v >> (8 * i)));
}
void put16(std::vector<std::byte>& out, uint16_t v) { out.push_back(std::byte(v)), out.push_back(std::byte(v >> 8)); }
void put_text(std::vector<std::byte>& out, const char* text)
{
    for (; *text; ++text)
        out.push_back(std::byte(*text));
}

}  // namespace

audio::audio(settings s, device_host host) : settings_(std::move(s)), host_(std::move(host))
{
    if (!settings_.wav.empty()) {
        // A FIFO is opened read-write, so that opening it waits for no reader.
        struct stat st{};
        const bool fifo = stat(settings_.wav.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
        wav_.fd = ::open(settings_.wav.c_str(),
                         (fifo ? O_RDWR : O_WRONLY | O_CREAT | O_TRUNC) | O_NONBLOCK | O_CLOEXEC, 0644);
        if (wav_.fd < 0)
            throw error(exit_status::host_failure, settings_.given.origin + ": cannot write " + settings_.wav + ": " +
                                                       std::strerror(errno));
        wav_.seekable = lseek(wav_.fd, 0, SEEK_CUR) >= 0;
    }
    if (settings_.open_output)
        output_ = settings_.open_output(*this);
    player_ = std::thread([this] { play(); });
}

audio::~audio()
{
    output_.reset();  // no pull runs after this
    {
        std::lock_guard guard(lock_);
        quitting_ = true;
    }
    wake_.notify_all();
    player_.join();
    {
        std::lock_guard guard(handler_lock_);
        on_ready_ = nullptr;
    }
    if (wav_.fd >= 0) {
        std::lock_guard guard(wav_lock_);
        finish_wav_locked();
        ::close(wav_.fd);
    }
}

abi::aud_info audio::info() const
{
    abi::aud_info record{};
    record.size = sizeof record;
    record.version = 1;
    record.formats = (1u << abi::aud_format::s16_stereo) | (1u << abi::aud_format::s16_mono);
    record.rates = (1u << abi::aud_rate::hz_44100) | (1u << abi::aud_rate::hz_48000);
    record.min_queue_frames = settings_.min_queue_frames;
    record.max_queue_frames = settings_.max_queue_frames;
    std::memcpy(record.name, settings_.name.data(), std::min(settings_.name.size(), sizeof record.name));
    return record;
}

bool audio::open(uint16_t format, uint16_t rate_value, uint32_t queue_frames, uint32_t& chosen)
{
    const uint32_t rate = rate_value == abi::aud_rate::hz_44100   ? rate_44100
                          : rate_value == abi::aud_rate::hz_48000 ? rate_48000
                                                                  : 0;
    if (!frame_size_of(format) || !rate)
        return false;
    // Outside the lock (stopping waits for a pull in flight, which takes it),
    // and before the stream starts over: the old device pulls no frame of it.
    if (output_)
        output_->stop();
    {
        std::lock_guard guard(lock_);
        format_ = format;
        rate_ = rate;
        frame_size_ = frame_size_of(format);
        queue_frames_ = std::clamp(queue_frames, settings_.min_queue_frames, settings_.max_queue_frames);
        queue_.assign(size_t(queue_frames_) * frame_size_, std::byte{0});
        head_ = queued_ = 0;
        position_ = underruns_ = taken_ = 0;
        played_since_open_ = in_underrun_ = false;
        low_water_ = queue_frames_ / 2;
        state_ = abi::aud_stream_state::playing;
        opened_ns_ = monotonic_now_ns();
        was_ready_ = true;
        chosen = queue_frames_;
        pulled_ = output_ != nullptr;  // the player stays off the stream while the output starts
        std::lock_guard sink(wav_lock_);
        if (wav_.fd >= 0 && (wav_.format != format || wav_.rate != rate)) {
            if (wav_.data_bytes)
                diagnostics::line(settings_.name + ": the stream was opened again in another format or rate; " +
                                  settings_.wav + " starts over");
            wav_.format = format, wav_.rate = rate;
            start_wav_locked(settings_.paced);
        }
    }
    if (output_) {
        const std::string failed = output_->start(unsigned(frame_size_of(format) / 2), rate);
        if (!failed.empty()) {
            note(failed + "; the stream plays at hbvm's pace into nothing");
            std::lock_guard guard(lock_);
            pulled_ = false;
            opened_ns_ = monotonic_now_ns();
            taken_ = 0;
        }
    }
    wake_.notify_all();
    notify_ready();  // an empty queue is below any low-water mark
    return true;
}

int64_t audio::write(std::span<const std::byte> data)
{
    std::unique_lock guard(lock_);
    if (state_ != abi::aud_stream_state::playing || data.size() % frame_size_ != 0)
        return -1;
    const size_t frames = data.size() / frame_size_;
    const size_t room = deviate_.queue_unbounded ? frames : queue_frames_ - queued_;
    const size_t taken = std::min(frames, room);
    if (deviate_.queue_unbounded && queued_ + taken > queue_frames_) {
        // The fault: a queue that grows past its length.
        queue_frames_ = uint32_t(queued_ + taken);
        std::vector<std::byte> bigger(size_t(queue_frames_) * frame_size_);
        for (size_t i = 0; i < queued_; ++i)
            std::memcpy(bigger.data() + i * frame_size_, queue_.data() + ((head_ + i) % (queue_.size() / frame_size_)) * frame_size_,
                        frame_size_);
        queue_.swap(bigger);
        head_ = 0;
    }
    const size_t capacity = queue_.size() / frame_size_;
    for (size_t i = 0; i < taken; ++i) {
        const size_t slot = (head_ + queued_ + i) % capacity;
        std::memcpy(queue_.data() + slot * frame_size_, data.data() + i * frame_size_, frame_size_);
    }
    queued_ += taken;
    if (access_audit* audit = access_audit::active(); audit && taken)
        audit->audio_frames(taken);
    // Above the mark now, perhaps: the next time the queue drains to it is a
    // change the player must announce (at pace=fast it never sees the queue
    // this full).
    (void)update_ready_locked();
    const bool full = taken == 0;
    guard.unlock();
    if (!settings_.paced && taken)
        wake_.notify_all();  // fast: the frames leave now
    return full ? 0 : int64_t(taken * frame_size_);
}

abi::aud_state audio::state() const
{
    std::lock_guard guard(lock_);
    abi::aud_state record{};
    record.size = sizeof record;
    record.version = 1;
    record.state = state_;
    if (state_ != abi::aud_stream_state::closed) {
        record.format = format_;
        record.rate = rate_;
        record.queue_frames = queue_frames_;
        record.queued_frames = uint32_t(queued_);
        record.position = deviate_.position_ahead ? position_ + queued_ : position_;
        record.underruns = underruns_;
        record.latency_ns = pulled_ ? output_->latency_ns() : uint64_t(settings_.tick_ms) * 1000000u;
        record.low_water = low_water_;
    }
    record.time_ns = monotonic_now_ns();
    return record;
}

bool audio::set_low_water(uint32_t frames)
{
    {
        std::lock_guard guard(lock_);
        if (state_ == abi::aud_stream_state::closed)
            return false;
        low_water_ = std::min(frames, queue_frames_ ? queue_frames_ - 1 : 0);
        (void)update_ready_locked();
    }
    notify_ready();
    return true;
}

bool audio::drain()
{
    {
        std::lock_guard guard(lock_);
        if (state_ == abi::aud_stream_state::closed)
            return false;
        if (deviate_.drain_drops)
            queued_ = 0;
        if (state_ == abi::aud_stream_state::playing)
            state_ = queued_ ? abi::aud_stream_state::draining : abi::aud_stream_state::drained;
        // Draining is not ready: becoming drained must be announced.
        (void)update_ready_locked();
    }
    wake_.notify_all();
    notify_ready();
    return true;
}

void audio::close()
{
    {
        std::lock_guard guard(lock_);
        state_ = abi::aud_stream_state::closed;
        format_ = 0, rate_ = 0, queue_frames_ = 0, queued_ = 0, head_ = 0, low_water_ = 0;
        queue_.clear();
        was_ready_ = false;
        pulled_ = false;
    }
    if (output_)
        output_->stop();  // outside the lock: it waits for a pull in flight
}

bool audio::ready() const
{
    std::lock_guard guard(lock_);
    return ready_locked();
}

void audio::set_ready_handler(std::function<void()> handler)
{
    std::lock_guard guard(handler_lock_);
    on_ready_ = std::move(handler);
}

void audio::notify_ready()
{
    std::lock_guard guard(handler_lock_);
    if (on_ready_)
        on_ready_();
}

// The frames due by `now_ns` at the stream's rate since it opened: the
// player's pace (pace=fast: everything queued, at once).
uint64_t audio::due_locked(uint64_t now_ns) const
{
    if (!settings_.paced)
        return queued_;
    const uint64_t elapsed = now_ns > opened_ns_ ? now_ns - opened_ns_ : 0;
    const uint64_t should = elapsed / 1000000000u * rate_ + elapsed % 1000000000u * rate_ / 1000000000u;
    return should > taken_ ? should - taken_ : 0;
}

// `due` frames leave the queue: the guest's while it has them, silence after
// (an underrun once the stream has played). `out` gets what the back end
// receives: the guest's frames, and silence once the stream has played its
// first frame. True when the stream became ready.
bool audio::take_locked(uint64_t due, std::vector<std::byte>& out)
{
    const size_t capacity = frame_size_ ? queue_.size() / frame_size_ : 0;
    for (uint64_t i = 0; i < due && (state_ == abi::aud_stream_state::playing ||
                                      state_ == abi::aud_stream_state::draining); ++i) {
        ++taken_;
        if (queued_) {
            const std::byte* frame = queue_.data() + head_ * frame_size_;
            if (!(deviate_.samples_dropped && position_ % 100 == 99))
                out.insert(out.end(), frame, frame + frame_size_);
            head_ = (head_ + 1) % capacity;
            --queued_;
            ++position_;
            played_since_open_ = true;
            in_underrun_ = false;
            continue;
        }
        if (state_ == abi::aud_stream_state::draining) {
            state_ = abi::aud_stream_state::drained;
            break;
        }
        if (played_since_open_ && !in_underrun_) {
            if (!deviate_.underruns_uncounted)
                ++underruns_;
            in_underrun_ = true;
        }
        if (played_since_open_)
            out.insert(out.end(), frame_size_, std::byte{0});
    }
    if (state_ == abi::aud_stream_state::draining && !queued_)
        state_ = abi::aud_stream_state::drained;
    return update_ready_locked();
}

bool audio::ready_locked() const
{
    return state_ == abi::aud_stream_state::drained ||
           (state_ == abi::aud_stream_state::playing && queued_ <= low_water_);
}

// Every change of the stream goes through here, so that the player announces
// each time it makes the stream ready: true when it just became ready.
bool audio::update_ready_locked()
{
    const bool now_ready = ready_locked();
    const bool became_ready = now_ready && !was_ready_;
    was_ready_ = now_ready;
    if (deviate_.drained_silent && state_ == abi::aud_stream_state::drained)
        return false;  // the fault: the level is right, the wake-up missing
    return became_ready;
}

// A pulling output's frames: what leaves the stream, silence for the rest of
// `out` (a closed or drained stream, and an underrun before the first frame).
void audio::pull(std::span<std::byte> out)
{
    std::unique_lock guard(lock_);
    pulled_frames_.clear();
    bool became_ready = false;
    if (pulled_ && frame_size_) {
        pulled_frames_.reserve(out.size());
        became_ready = take_locked(out.size() / frame_size_, pulled_frames_);
    }
    const size_t got = std::min(pulled_frames_.size(), out.size());
    if (got)
        std::memcpy(out.data(), pulled_frames_.data(), got);
    std::memset(out.data() + got, 0, out.size() - got);
    guard.unlock();
    if (became_ready)
        notify_ready();
}

void audio::note(const std::string& line) { diagnostics::line(settings_.name + ": " + line); }

void audio::play()
{
    std::vector<std::byte> out;
    std::unique_lock guard(lock_);
    while (!quitting_) {
        // Ticks only while frames leave at hbvm's pace: a closed or drained
        // stream, or one a pulling output plays, costs no CPU here.
        const bool paced_here = !pulled_ && (state_ == abi::aud_stream_state::playing ||
                                             state_ == abi::aud_stream_state::draining);
        if (paced_here)
            wake_.wait_for(guard, std::chrono::milliseconds(settings_.tick_ms));
        else
            wake_.wait(guard);
        if (quitting_)
            break;
        out.clear();
        const bool became_ready = !pulled_ && take_locked(due_locked(monotonic_now_ns()), out);
        // Into the sink's pending bytes before the stream's lock goes: an open
        // in another format (which starts the file over) must not come between
        // the frames taken and their place in the file.
        if (wav_.fd >= 0 && !out.empty())
            hold_for_sink(out);
        guard.unlock();
        if (became_ready)
            notify_ready();
        if (wav_.fd >= 0)
            write_pending();
        guard.lock();
    }
}

// Bytes for the WAV file, after what waits already. A sink that stalls holds a
// second at most: beyond it the oldest whole frames drop (counted), never the
// header's bytes not yet written nor the rest of a frame partly written, so
// that a reader that comes back reads a WAV still. Under lock_ (then wav_lock_,
// the order open takes them in).
void audio::hold_for_sink(const std::vector<std::byte>& out)
{
    std::lock_guard sink(wav_lock_);
    wav_.pending.insert(wav_.pending.end(), out.begin(), out.end());
    wav_.data_bytes += out.size();
    if (wav_.pending.size() <= wav_.pending_limit)
        return;
    const size_t frame = wav_.format == abi::aud_format::s16_stereo ? 4 : 2;
    const size_t keep = wav_.header_left + (frame - wav_.data_written % frame) % frame;
    const size_t droppable = wav_.pending.size() > keep ? (wav_.pending.size() - keep) / frame * frame : 0;
    const size_t excess = std::min(droppable, (wav_.pending.size() - wav_.pending_limit + frame - 1) / frame * frame);
    const auto from = wav_.pending.begin() + long(keep);
    wav_.pending.erase(from, from + long(excess));
    wav_.dropped_bytes += excess;
}

// RIFF/WAVE with a fmt chunk (PCM), a LIST/INFO comment saying how the file
// was paced, and a data chunk. Where the file seeks, the two sizes are filled
// in by finish_wav_locked; a FIFO gets 0xFFFFFFFF, a streamed WAV's sizes.
void audio::start_wav_locked(bool paced)
{
    wav_.pending.clear();
    if (wav_.seekable) {
        (void)!ftruncate(wav_.fd, 0);
        lseek(wav_.fd, 0, SEEK_SET);
    }
    const uint16_t channels = wav_.format == abi::aud_format::s16_stereo ? 2 : 1;
    const char* text = paced ? "hbvm AUD stream; pace=real: written at the stream's rate, as a sound card plays"
                             : "hbvm AUD stream; pace=fast: written as the guest wrote, NOT at the stream's rate";
    const uint32_t text_size = uint32_t((std::strlen(text) + 2) & ~size_t(1));  // NUL, padded to even
    const uint32_t unknown = wav_.seekable ? 0 : 0xFFFFFFFF;
    std::vector<std::byte>& h = wav_.pending;
    put_text(h, "RIFF"), put32(h, unknown), put_text(h, "WAVEfmt "), put32(h, 16), put16(h, 1), put16(h, channels);
    put32(h, wav_.rate), put32(h, wav_.rate * channels * 2), put16(h, uint16_t(channels * 2)), put16(h, 16);
    put_text(h, "LIST"), put32(h, 4 + 8 + text_size), put_text(h, "INFOICMT"), put32(h, text_size);
    put_text(h, text);
    h.resize(h.size() + text_size - std::strlen(text), std::byte{0});
    put_text(h, "data"), put32(h, unknown);
    wav_.data_offset = h.size();
    wav_.header_left = h.size();
    wav_.data_bytes = wav_.data_written = wav_.dropped_bytes = 0;
    wav_.pending_limit = h.size() + size_t(wav_.rate) * channels * 2;  // a second of sound
}

// Writes what it can without blocking; the rest waits for the next tick.
void audio::write_pending()
{
    std::lock_guard sink(wav_lock_);
    size_t done = 0;
    while (done < wav_.pending.size()) {
        const ssize_t n = ::write(wav_.fd, wav_.pending.data() + done, wav_.pending.size() - done);
        if (n <= 0)
            break;  // EAGAIN: a FIFO's reader stalls; anything else: the next tick tries again
        done += size_t(n);
    }
    written_locked(done);
}

// `done` bytes from the front of pending reached the file.
void audio::written_locked(size_t done)
{
    const size_t of_header = std::min(done, wav_.header_left);
    wav_.header_left -= of_header;
    wav_.data_written += done - of_header;
    wav_.pending.erase(wav_.pending.begin(), wav_.pending.begin() + long(done));
}

void audio::finish_wav_locked()
{
    if (!wav_.format)
        return;
    // What waits goes now (a regular file takes it; a stalled FIFO keeps it).
    size_t done = 0;
    while (done < wav_.pending.size()) {
        const ssize_t n = ::write(wav_.fd, wav_.pending.data() + done, wav_.pending.size() - done);
        if (n <= 0)
            break;
        done += size_t(n);
    }
    written_locked(done);
    if (!wav_.seekable || !wav_.pending.empty())
        return;
    const uint32_t data = uint32_t(wav_.data_bytes - std::min<uint64_t>(wav_.data_bytes, wav_.dropped_bytes));
    const uint32_t riff = uint32_t(wav_.data_offset - 8 + data);
    std::byte bytes[4];
    std::memcpy(bytes, &riff, 4);
    (void)!pwrite(wav_.fd, bytes, 4, 4);
    std::memcpy(bytes, &data, 4);
    (void)!pwrite(wav_.fd, bytes, 4, off_t(wav_.data_offset - 4));
}

void audio::take_faults(const fault_injector& faults)
{
    const fault_injector::audio_deviations d = faults.audio_faults();
    std::lock_guard guard(lock_);  // the player reads them already
    deviate_.position_ahead = d.position_ahead, deviate_.queue_unbounded = d.queue_unbounded;
    deviate_.underruns_uncounted = d.underruns_uncounted, deviate_.drain_drops = d.drain_drops;
    deviate_.samples_dropped = d.samples_dropped, deviate_.drained_silent = d.drained_silent;
}

void audio::run_ended()
{
    if (wav_.fd >= 0) {
        std::lock_guard sink(wav_lock_);
        finish_wav_locked();  // a complete file at each run's end; playing on appends and finishes again
    }
    std::lock_guard guard(lock_);
    if (host_.stats)
        diagnostics::line(settings_.name + ": stats: " + std::to_string(position_) + " frames played, " +
                          std::to_string(underruns_) + " underruns");
}

namespace {

void check_audio(std::vector<device_settings>& all)
{
    for (size_t i = 0; i < all.size(); ++i) {
        device_settings& s = all[i];
        const std::string b = s.get("backend").value_or("");
        if (b != "none" && b != "sdl" && (b.rfind("wav:", 0) != 0 || b.size() == 4))
            throw error(exit_status::usage, s.origin + ": an audio output is wav:PATH, sdl or none, not '" + b + "'");
        if (b == "sdl" && s.get("pace"))
            throw error(exit_status::usage, s.origin + ": pace= is for wav:PATH and none; sdl plays at its sound "
                                                       "card's pace");
        const std::string pace = s.get("pace").value_or("real");
        if (pace != "real" && pace != "fast")
            throw error(exit_status::usage, s.origin + ": pace=" + pace + ": write pace=real (a sound card's pace, "
                                                       "the default) or pace=fast (as the guest writes)");
        if (!s.get("name"))
            s.values.emplace_back("name", "audio" + std::to_string(i));
        const std::string name = *s.get("name");
        if (name.empty() || name.size() > 32)
            throw error(exit_status::usage, s.origin + ": a stream's name is 1 to 32 bytes");
        for (size_t j = 0; j < i; ++j)
            if (all[j].get("name") == name)
                throw error(exit_status::usage, s.origin + ": the name '" + name +
                                                    "' is another stream's already; give one another name=");
    }
}

std::vector<std::unique_ptr<device>> create_audio(const std::vector<device_settings>& all, const device_host& host)
{
    std::vector<std::unique_ptr<device>> made;
    for (const device_settings& s : all) {
        audio::settings d;
        d.given = s;
        d.name = *s.get("name");
        const std::string b = s.get("backend").value_or("none");
        if (b.rfind("wav:", 0) == 0)
            d.wav = b.substr(4);
        d.paced = s.get("pace").value_or("real") == "real";
        if (b == "sdl")
            d.open_output = [given = s](audio_source& source) {
                const module_entry& module = load_module("sdl", given.origin);
                if (!module.open_audio)
                    throw error(exit_status::host_failure, given.origin + ": the module hbvm-sdl.so has no sound");
                return module.open_audio(given, source);
            };
        made.push_back(std::make_unique<audio>(d, host));
    }
    return made;
}

}  // namespace

device_class audio_device_class()
{
    return {"audio",
            "  --audio wav:PATH|sdl|none[,pace=real|fast][,name=N]\n"
            "                  a sound output stream for the AUD service, repeatable up\n"
            "                  to 16 times (none when none is given): wav:PATH writes\n"
            "                  what the stream plays into a WAV file at the pace a sound\n"
            "                  card plays it (pace=fast: as the guest writes, for tests\n"
            "                  that need no pacing; the file says which); sdl plays on\n"
            "                  this machine's sound card through SDL2 at the card's\n"
            "                  pace (the module hbvm-sdl.so; SDL_AUDIODRIVER picks\n"
            "                  the driver); none plays at the pace into nothing\n",
            "backend",
            {"backend", "name", "pace"},
            {},
            16,
            false,
            check_audio,
            create_audio};
}

}  // namespace hbvm
