// bench-evt's host side: what Linux itself gives a process, for comparison with
// a guest's EVT timer. A 1 kHz periodic timerfd (CLOCK_MONOTONIC, absolute first
// deadline), read in a blocking loop; each read's wake-up time minus the n-th
// deadline not served before (start + n x period, n counting every expiration
// read before) is one lateness sample. Prints the same lines as the guest (evt_rounds.cpp, late-*):
// "late V V ..." (ns) and "late-end N missed M".
//
// usage: bench_evt_host N
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

constexpr uint64_t period_ns = 1'000'000;

uint64_t now()
{
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return uint64_t(t.tv_sec) * 1'000'000'000u + uint64_t(t.tv_nsec);
}

timespec to_timespec(uint64_t ns) { return {time_t(ns / 1'000'000'000u), long(ns % 1'000'000'000u)}; }

}  // namespace

int main(int argc, char** argv)
{
    const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000;
    const int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (fd < 0) {
        std::perror("bench_evt_host: timerfd_create");
        return 1;
    }
    std::vector<uint64_t> samples;
    samples.reserve(n);
    const uint64_t start = now();
    const itimerspec spec{to_timespec(period_ns), to_timespec(start + period_ns)};
    if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
        std::perror("bench_evt_host: timerfd_settime");
        return 1;
    }
    uint64_t expirations = 0;
    while (samples.size() < n) {
        uint64_t count = 0;
        if (read(fd, &count, sizeof count) != sizeof count) {
            std::perror("bench_evt_host: read");
            return 1;
        }
        const uint64_t at = now();
        samples.push_back(at - (start + (expirations + 1) * period_ns));  // the first deadline of this batch
        expirations += count;
    }
    close(fd);
    std::string line;
    for (size_t i = 0; i < samples.size(); ++i) {
        if (line.empty())
            line = "late";
        line += ' ' + std::to_string(samples[i]);
        if (line.size() > 1000 || i + 1 == samples.size()) {
            std::printf("%s\n", line.c_str());
            line.clear();
        }
    }
    std::printf("late-end %llu missed %llu\n", static_cast<unsigned long long>(n),
                static_cast<unsigned long long>(expirations - n));
    return 0;
}
