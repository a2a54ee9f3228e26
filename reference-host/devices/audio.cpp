#include "devices/audio.hpp"

#include "core/diagnostics.hpp"
#include "core/error.hpp"
#include "core/fault_injection.hpp"
#include "devices/clock.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace hbvm {

namespace {

constexpr uint32_t rate_44100 = 44100, rate_48000 = 48000;

size_t frame_size_of(uint16_t format)
{
    return format == abi::aud_format::s16_stereo ? 4 : format == abi::aud_format::s16_mono ? 2 : 0;
}

void put32(std::FILE* f, uint32_t v) { std::fwrite(&v, 4, 1, f); }
void put16(std::FILE* f, uint16_t v) { std::fwrite(&v, 2, 1, f); }

}  // namespace

audio::audio(settings s, device_host host) : settings_(std::move(s)), host_(std::move(host))
{
    if (!settings_.wav.empty()) {
        wav_ = std::fopen(settings_.wav.c_str(), "w+be");
        if (!wav_)
            throw error(exit_status::host_failure, settings_.given.origin + ": cannot write " + settings_.wav + ": " +
                                                       std::strerror(errno));
    }
    player_ = std::thread([this] { play(); });
}

audio::~audio()
{
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
    if (wav_) {
        finish_wav();
        std::fclose(wav_);
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
        if (wav_ && (wav_format_ != format || wav_rate_ != rate)) {
            if (wav_bytes_)
                diagnostics::line(settings_.name + ": the stream was opened again in another format or rate; " +
                                  settings_.wav + " starts over");
            wav_format_ = format, wav_rate_ = rate, wav_bytes_ = 0;
            write_wav_header();
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
        record.latency_ns = uint64_t(settings_.tick_ms) * 1000000u;
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
        if (state_ == abi::aud_stream_state::playing)
            state_ = queued_ ? abi::aud_stream_state::draining : abi::aud_stream_state::drained;
    }
    wake_.notify_all();
    notify_ready();
    return true;
}

void audio::close()
{
    std::lock_guard guard(lock_);
    state_ = abi::aud_stream_state::closed;
    format_ = 0, rate_ = 0, queue_frames_ = 0, queued_ = 0, head_ = 0, low_water_ = 0;
    queue_.clear();
    was_ready_ = false;
}

bool audio::ready() const
{
    std::lock_guard guard(lock_);
    if (state_ == abi::aud_stream_state::drained)
        return true;
    return state_ == abi::aud_stream_state::playing && queued_ <= low_water_;
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

// The frames due by `now_ns` leave the queue: the guest's while it has them,
// silence after (an underrun once the stream has played). `out` gets what the
// back end receives: the guest's frames, and silence once the stream has
// played its first frame.
void audio::take_due_locked(uint64_t now_ns, std::vector<std::byte>& out)
{
    if (state_ != abi::aud_stream_state::playing && state_ != abi::aud_stream_state::draining)
        return;
    uint64_t due;
    if (settings_.paced) {
        const uint64_t elapsed = now_ns > opened_ns_ ? now_ns - opened_ns_ : 0;
        const uint64_t should = elapsed / 1000000000u * rate_ + elapsed % 1000000000u * rate_ / 1000000000u;
        due = should > taken_ ? should - taken_ : 0;
    } else {
        due = queued_;
    }
    const size_t capacity = queue_.size() / frame_size_;
    for (uint64_t i = 0; i < due; ++i) {
        ++taken_;
        if (queued_) {
            const std::byte* frame = queue_.data() + head_ * frame_size_;
            if (!(deviate_.drops_samples && position_ % 100 == 99))
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
            return;
        }
        if (played_since_open_ && !in_underrun_) {
            ++underruns_;
            in_underrun_ = true;
        }
        if (played_since_open_)
            out.insert(out.end(), frame_size_, std::byte{0});
    }
    if (state_ == abi::aud_stream_state::draining && !queued_)
        state_ = abi::aud_stream_state::drained;
}

void audio::play()
{
    std::vector<std::byte> out;
    std::unique_lock guard(lock_);
    while (!quitting_) {
        wake_.wait_for(guard, std::chrono::milliseconds(settings_.tick_ms));
        if (quitting_)
            break;
        out.clear();
        take_due_locked(monotonic_now_ns(), out);
        const bool now_ready = state_ == abi::aud_stream_state::drained ||
                               (state_ == abi::aud_stream_state::playing && queued_ <= low_water_);
        const bool became_ready = now_ready && !was_ready_;
        was_ready_ = now_ready;
        if (wav_ && !out.empty()) {
            std::fwrite(out.data(), 1, out.size(), wav_);
            wav_bytes_ += out.size();
        }
        guard.unlock();
        if (became_ready)
            notify_ready();
        guard.lock();
    }
}

// RIFF/WAVE with a fmt chunk (PCM), a LIST/INFO comment saying how the file
// was paced, and a data chunk whose sizes finish_wav() writes at the end.
void audio::write_wav_header()
{
    std::fseek(wav_, 0, SEEK_SET);
    const uint16_t channels = wav_format_ == abi::aud_format::s16_stereo ? 2 : 1;
    const char comment[] = "hbvm AUD stream; pace=real: written at the stream's rate, as a sound card plays";
    const char fast[] = "hbvm AUD stream; pace=fast: written as the guest wrote, NOT at the stream's rate";
    const char* text = settings_.paced ? comment : fast;
    const uint32_t text_size = uint32_t(std::strlen(text) + 1 + ((std::strlen(text) + 1) & 1));
    std::fwrite("RIFF", 1, 4, wav_);
    put32(wav_, 0);  // finish_wav
    std::fwrite("WAVEfmt ", 1, 8, wav_);
    put32(wav_, 16);
    put16(wav_, 1);
    put16(wav_, channels);
    put32(wav_, wav_rate_);
    put32(wav_, wav_rate_ * channels * 2);
    put16(wav_, uint16_t(channels * 2));
    put16(wav_, 16);
    std::fwrite("LIST", 1, 4, wav_);
    put32(wav_, 4 + 8 + text_size);
    std::fwrite("INFOICMT", 1, 8, wav_);
    put32(wav_, text_size);
    std::vector<char> padded(text_size, 0);
    std::memcpy(padded.data(), text, std::strlen(text));
    std::fwrite(padded.data(), 1, padded.size(), wav_);
    std::fwrite("data", 1, 4, wav_);
    put32(wav_, 0);  // finish_wav
    std::fflush(wav_);
}

void audio::finish_wav()
{
    if (!wav_format_)
        return;
    const long end = std::ftell(wav_);
    std::fseek(wav_, 4, SEEK_SET);
    put32(wav_, uint32_t(end - 8));
    std::fseek(wav_, end - long(wav_bytes_) - 4, SEEK_SET);
    put32(wav_, uint32_t(wav_bytes_));
    std::fseek(wav_, end, SEEK_SET);
    std::fflush(wav_);
}

void audio::take_faults(const fault_injector&) {}

void audio::run_ended()
{
    std::lock_guard guard(lock_);
    if (wav_)
        finish_wav();  // a complete file at each run's end; playing on appends and finishes again
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
        if (b != "none" && (b.rfind("wav:", 0) != 0 || b.size() == 4))
            throw error(exit_status::usage, s.origin + ": an audio output is wav:PATH or none, not '" + b + "'");
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
        made.push_back(std::make_unique<audio>(d, host));
    }
    return made;
}

}  // namespace

device_class audio_device_class()
{
    return {"audio",
            "  --audio wav:PATH|none[,pace=real|fast][,name=N]\n"
            "                  a sound output stream for the AUD service, repeatable up\n"
            "                  to 16 times (none when none is given): wav:PATH writes\n"
            "                  what the stream plays into a WAV file at the pace a sound\n"
            "                  card plays it (pace=fast: as the guest writes, for tests\n"
            "                  that need no pacing; the file says which); none plays\n"
            "                  at the pace into nothing\n",
            "backend",
            {"backend", "name", "pace"},
            {},
            16,
            false,
            check_audio,
            create_audio};
}

}  // namespace hbvm
