// The host side of bench-block: the same sequential pwrite then pread passes that
// block_rounds.cpp makes through BLOCK, done by the host directly on the same file,
// CHUNK bytes per call, TOTAL bytes each way, wrapping at the end of the file.
// Like the guest, it touches one 64-bit stamp per chunk and nothing else, and it
// neither syncs nor drops the page cache: both sides measure the interface.
//
// usage: bench_block_host FILE CHUNK TOTAL
// Prints "host-write CHUNK bytes B calls C total-ns T failures F" and "host-read ...",
// the guest's format.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

uint64_t now_ns()
{
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return uint64_t(t.tv_sec) * 1'000'000'000u + uint64_t(t.tv_nsec);
}

constexpr uint64_t stamp_of(uint64_t offset) { return offset ^ 0x5a5a'0000'0000'0000ull; }

// The whole chunk, as hbvm's disk does it (a short transfer is continued).
bool transfer(int fd, bool writes, unsigned char* buffer, uint64_t chunk, uint64_t offset)
{
    for (uint64_t done = 0; done < chunk;) {
        const ssize_t n = writes ? ::pwrite(fd, buffer + done, chunk - done, off_t(offset + done))
                                 : ::pread(fd, buffer + done, chunk - done, off_t(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += uint64_t(n);
    }
    return true;
}

void report(const char* what, uint64_t chunk, uint64_t calls, uint64_t ns, uint64_t failures)
{
    std::printf("%s %llu bytes %llu calls %llu total-ns %llu failures %llu\n", what, (unsigned long long)chunk,
                (unsigned long long)(calls * chunk), (unsigned long long)calls, (unsigned long long)ns,
                (unsigned long long)failures);
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc != 4) {
        std::fprintf(stderr, "usage: bench_block_host FILE CHUNK TOTAL\n");
        return 64;
    }
    const uint64_t chunk = std::strtoull(argv[2], nullptr, 0), total = std::strtoull(argv[3], nullptr, 0);
    const int fd = ::open(argv[1], O_RDWR | O_CLOEXEC);
    struct stat st{};
    if (fd < 0 || ::fstat(fd, &st) != 0) {
        std::fprintf(stderr, "bench_block_host: %s: %s\n", argv[1], std::strerror(errno));
        return 66;
    }
    const uint64_t file_bytes = uint64_t(st.st_size);
    if (chunk == 0 || chunk > file_bytes || total < chunk) {
        std::fprintf(stderr, "bench_block_host: CHUNK must be at least 1, at most the file's size and TOTAL\n");
        return 64;
    }
    // Memory of the kind hbvm's guest RAM is, touched before timing as the guest's
    // buffer is: an anonymous private mapping, here 2 MiB-aligned, so that
    // transparent huge pages back both sides or neither (with THP "always", as in
    // the nested lane's Debian kernel, hbvm's large guest RAM gets huge pages; a
    // small aligned_alloc would not, and would lose a TLB advantage, not interface time).
    constexpr uint64_t huge = 2u << 20;
    const uint64_t mapped = (chunk + huge - 1) / huge * huge + huge;
    void* region = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) {
        std::fprintf(stderr, "bench_block_host: mmap: %s\n", std::strerror(errno));
        return 70;
    }
    auto* buffer = reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(region) + huge - 1) & ~(huge - 1));
    for (uint64_t i = 0; i < chunk; ++i)
        buffer[i] = static_cast<unsigned char>(i * 131 + 7);
    auto* stamp = reinterpret_cast<uint64_t*>(buffer);
    const uint64_t calls = total / chunk, wrap = file_bytes - file_bytes % chunk;

    uint64_t failures = 0, offset = 0;
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < calls; ++i) {
        *stamp = stamp_of(offset);
        failures += !transfer(fd, true, buffer, chunk, offset);
        offset += chunk;
        if (offset == wrap)
            offset = 0;
    }
    uint64_t t1 = now_ns();
    report("host-write", chunk, calls, t1 - t0, failures);
    const uint64_t write_failures = failures;

    failures = 0;
    offset = 0;
    t0 = now_ns();
    for (uint64_t i = 0; i < calls; ++i) {
        failures += !transfer(fd, false, buffer, chunk, offset);
        failures += *stamp != stamp_of(offset);
        offset += chunk;
        if (offset == wrap)
            offset = 0;
    }
    t1 = now_ns();
    report("host-read", chunk, calls, t1 - t0, failures);
    ::munmap(region, mapped);
    ::close(fd);
    return failures || write_failures ? 1 : 0;
}
