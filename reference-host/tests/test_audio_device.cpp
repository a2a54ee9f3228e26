// The audio device (devices/audio.hpp) without a machine: readiness announced
// at pace=fast, and a pulling output (the sdl back end's kind) that takes the
// stream's frames at its own pace while the player keeps off.
#include "devices/audio.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

namespace hbvm {
namespace {

using namespace std::chrono_literals;
namespace abi = hyperbios::abi;

constexpr size_t frame_bytes = 4;  // s16 stereo

// Frames whose left sample is 1, 2, 3, ...: what came out is easy to name.
std::vector<std::byte> numbered_frames(size_t count)
{
    std::vector<std::byte> out(count * frame_bytes);
    for (size_t i = 0; i < count; ++i) {
        const int16_t left = int16_t(i + 1), right = int16_t(-left);
        std::memcpy(&out[i * frame_bytes], &left, 2);
        std::memcpy(&out[i * frame_bytes + 2], &right, 2);
    }
    return out;
}

int16_t left_of(const std::vector<std::byte>& frames, size_t i)
{
    int16_t v;
    std::memcpy(&v, &frames[i * frame_bytes], 2);
    return v;
}

// An output as the sdl module's is, driven by the test: it remembers the
// stream's source and pulls only when told.
struct test_output : audio_output {
    audio_source& source;
    std::string refuse;  // what start answers: "" starts
    std::atomic<unsigned> starts{0}, stops{0};
    unsigned channels = 0;
    uint32_t rate = 0;

    explicit test_output(audio_source& s, std::string refusal) : source(s), refuse(std::move(refusal)) {}
    std::string start(unsigned c, uint32_t r) override
    {
        ++starts, channels = c, rate = r;
        return refuse;
    }
    void stop() override { ++stops; }
    uint64_t latency_ns() const override { return 42'000'000; }
};

struct stream_with_output {
    test_output* output = nullptr;
    std::unique_ptr<audio> stream;

    explicit stream_with_output(std::string refusal = "")
    {
        audio::settings s;
        s.name = "audio0";
        s.open_output = [this, refusal](audio_source& source) {
            auto made = std::make_unique<test_output>(source, refusal);
            output = made.get();
            return made;
        };
        stream = std::make_unique<audio>(s, device_host{});
    }
    std::vector<std::byte> pull(size_t frames)
    {
        std::vector<std::byte> out(frames * frame_bytes, std::byte{0x55});
        output->source.pull(out);
        return out;
    }
};

TEST(AudioDevice, FastPaceAnnouncesReadinessEachTimeTheQueueEmpties)
{
    // At pace=fast the player takes a full queue at once: it never sees the
    // queue above the mark, yet a guest asleep on source 36 must be woken.
    audio::settings s;
    s.name = "audio0";
    s.paced = false;
    audio stream(s, device_host{});
    std::atomic<unsigned> announced{0};
    stream.set_ready_handler([&] { ++announced; });
    uint32_t queue = 0;
    ASSERT_TRUE(stream.open(abi::aud_format::s16_stereo, abi::aud_rate::hz_48000, 4800, queue));
    for (int round = 0; round < 3; ++round) {
        const unsigned before = announced;
        const auto frames = numbered_frames(queue);
        ASSERT_EQ(stream.write(frames), int64_t(frames.size()));
        const auto until = std::chrono::steady_clock::now() + 2s;
        while (announced == before && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(1ms);
        EXPECT_GT(announced, before) << "round " << round << ": the queue emptied unannounced";
        EXPECT_TRUE(stream.ready());
    }
    EXPECT_EQ(stream.state().position, 3u * queue);
}

TEST(AudioDevice, DrainedIsAnnouncedThoughTheQueueWasBelowTheMark)
{
    // Ready (below the mark), then draining (not ready), then drained (ready
    // again): a guest asleep on source 36 while it drains must be woken.
    audio::settings s;
    s.name = "audio0";
    audio stream(s, device_host{});
    std::atomic<unsigned> announced{0};
    stream.set_ready_handler([&] { ++announced; });
    uint32_t queue = 0;
    ASSERT_TRUE(stream.open(abi::aud_format::s16_stereo, abi::aud_rate::hz_48000, 4800, queue));
    ASSERT_EQ(stream.write(numbered_frames(1000)), int64_t(1000 * frame_bytes));
    ASSERT_TRUE(stream.ready());
    ASSERT_TRUE(stream.drain());
    const unsigned after_drain = announced;  // drain's own
    const auto until = std::chrono::steady_clock::now() + 2s;
    while (announced == after_drain && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(1ms);
    EXPECT_GT(announced, after_drain) << "the stream became drained unannounced";
    EXPECT_EQ(stream.state().state, abi::aud_stream_state::drained);
}

TEST(AudioDevice, PullingOutputTakesTheFramesAtItsPaceAndCountsOneUnderrun)
{
    stream_with_output t;
    ASSERT_NE(t.output, nullptr);
    uint32_t queue = 0;
    ASSERT_TRUE(t.stream->open(abi::aud_format::s16_stereo, abi::aud_rate::hz_44100, 960, queue));
    EXPECT_EQ(t.output->starts, 1u);
    EXPECT_EQ(t.output->channels, 2u);
    EXPECT_EQ(t.output->rate, 44100u);
    const auto frames = numbered_frames(480);
    ASSERT_EQ(t.stream->write(frames), int64_t(frames.size()));

    // The player keeps off: nothing leaves until the output pulls.
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(t.stream->state().position, 0u);
    EXPECT_EQ(t.stream->state().latency_ns, 42'000'000u);

    const auto first = t.pull(256);
    for (size_t i = 0; i < 256; ++i)
        ASSERT_EQ(left_of(first, i), int16_t(i + 1)) << "frame " << i;
    EXPECT_EQ(t.stream->state().position, 256u);
    EXPECT_EQ(t.stream->state().underruns, 0u);

    // More than is queued: the rest of the guest's frames, then silence, one underrun.
    const auto second = t.pull(512);
    for (size_t i = 0; i < 224; ++i)
        ASSERT_EQ(left_of(second, i), int16_t(257 + i)) << "frame " << i;
    for (size_t i = 224; i < 512; ++i)
        ASSERT_EQ(left_of(second, i), 0) << "frame " << i;
    (void)t.pull(512);
    const abi::aud_state s = t.stream->state();
    EXPECT_EQ(s.position, 480u);
    EXPECT_EQ(s.underruns, 1u);
    EXPECT_TRUE(t.stream->ready());

    // Closed: the output stops, and a late pull gets silence.
    t.stream->close();
    EXPECT_GE(t.output->stops, 1u);
    const auto late = t.pull(16);
    for (size_t i = 0; i < 16; ++i)
        ASSERT_EQ(left_of(late, i), 0);
}

TEST(AudioDevice, PullingOutputDrainsThenGivesSilence)
{
    stream_with_output t;
    uint32_t queue = 0;
    ASSERT_TRUE(t.stream->open(abi::aud_format::s16_stereo, abi::aud_rate::hz_48000, 960, queue));
    ASSERT_EQ(t.stream->write(numbered_frames(100)), int64_t(100 * frame_bytes));
    ASSERT_TRUE(t.stream->drain());
    EXPECT_EQ(t.stream->state().state, abi::aud_stream_state::draining);
    (void)t.pull(64);
    (void)t.pull(64);
    const abi::aud_state s = t.stream->state();
    EXPECT_EQ(s.state, abi::aud_stream_state::drained);
    EXPECT_EQ(s.position, 100u);
    EXPECT_EQ(s.underruns, 0u);
}

TEST(AudioDevice, OutputThatCannotStartLeavesTheStreamPlayingAtHbvmsPace)
{
    stream_with_output t("no sound device");
    uint32_t queue = 0;
    ASSERT_TRUE(t.stream->open(abi::aud_format::s16_stereo, abi::aud_rate::hz_48000, 9600, queue));
    ASSERT_EQ(t.stream->write(numbered_frames(4800)), int64_t(4800 * frame_bytes));
    std::this_thread::sleep_for(60ms);
    const abi::aud_state s = t.stream->state();
    EXPECT_GT(s.position, 0u) << "the player paces a stream whose output did not start";
    EXPECT_EQ(s.latency_ns, 5'000'000u);
}

}  // namespace
}  // namespace hbvm
