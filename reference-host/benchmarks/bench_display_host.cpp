// The host's side of bench-display: what copying a frame costs on this machine
// without a VM — memcpy of the same rectangles the guest presents, row by row
// from a buffer of the guest's stride (as hbvm copies them), the same number
// of times. Prints "host-copy WIDTH x HEIGHT bytes B calls C total-ns T".
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

void copy_round(uint32_t w, uint32_t h, uint64_t calls)
{
    constexpr uint32_t stride = 1920;  // pixels, as the guest's frame
    std::vector<uint32_t> source(size_t(stride) * 1080, 0x12345678u), target(size_t(w) * h);
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < calls; ++i) {
        source[(i * 64) % source.size()] = uint32_t(i);
        for (uint32_t row = 0; row < h; ++row)
            std::memcpy(target.data() + size_t(row) * w, source.data() + size_t(row) * stride, size_t(w) * 4);
        asm volatile("" : : "r"(target.data()) : "memory");  // the copies are used
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start);
    std::printf("host-copy %u x %u bytes %llu calls %llu total-ns %lld\n", w, h,
                static_cast<unsigned long long>(uint64_t(w) * h * 4), static_cast<unsigned long long>(calls),
                static_cast<long long>(ns.count()));
}

}  // namespace

int main()
{
    copy_round(1920, 1080, 100);
    copy_round(64, 64, 3000);
    return 0;
}
