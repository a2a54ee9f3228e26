// Benchmark guest: sequential writes, then sequential reads, through BLOCK on
// device 0, CHUNK bytes per call, TOTAL bytes each way, timed with the host's
// monotonic clock. Kernel command line: "IMAGE CHUNK TOTAL" (bytes; CHUNK a
// multiple of the sector size, at most 1 MiB). The transfers run from sector 0
// to the end of the disk and start again at 0, so TOTAL may exceed the disk.
//
// Each call is one exit. The guest does not touch the data beyond one 64-bit
// stamp per chunk (the chunk's byte offset, written before each write and
// checked after each read), so that what is timed is the interface, as for the
// host's pread/pwrite loop it is compared with (bench_block_host.cpp).
//
// Prints "block-write CHUNK bytes B calls C total-ns T failures F" and
// "block-read ..."; exit status 0, or 1 when a call failed or a stamp was wrong.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;

namespace {

constexpr uint64_t largest_chunk = 1 << 20;
alignas(4096) unsigned char buffer[largest_chunk];

// The numbers after the image name on the kernel command line.
size_t numeric_arguments(uint32_t magic, uint32_t info_address, uint64_t* out, size_t most)
{
    if (magic != hb::multiboot::loader_magic)
        return 0;
    const auto* info = reinterpret_cast<const hb::multiboot::info*>(uint64_t(info_address));
    if (!(info->flags & hb::multiboot::info_cmdline))
        return 0;
    const char* s = reinterpret_cast<const char*>(uint64_t(info->cmdline));
    while (*s && *s != ' ')  // the image name
        ++s;
    size_t n = 0;
    while (n < most) {
        while (*s == ' ')
            ++s;
        if (*s < '0' || *s > '9')
            break;
        uint64_t value = 0;
        for (; *s >= '0' && *s <= '9'; ++s)
            value = value * 10 + uint64_t(*s - '0');
        out[n++] = value;
    }
    return n;
}

void say(const char* text) { (void)hb::console::write(text); }

void report(const char* what, uint64_t chunk, uint64_t bytes, uint64_t calls, uint64_t ns, uint64_t failures)
{
    hb::text::line<160> out;
    out.put(what).put(' ').dec(chunk).put(" bytes ").dec(bytes).put(" calls ").dec(calls).put(" total-ns ").dec(ns)
        .put(" failures ").dec(failures).put('\n');
    say(out.c_str());
}

uint64_t& stamp() { return *reinterpret_cast<uint64_t*>(buffer); }

constexpr uint64_t stamp_of(uint64_t offset) { return offset ^ 0x5a5a'0000'0000'0000ull; }

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    if (!hb::present())
        hb::fallback::power_off_emulator(2);
    uint64_t args[2] = {65536, 64u << 20};
    numeric_arguments(magic, info, args, 2);
    const uint64_t chunk = args[0], total = args[1];
    hb::block::info_record disk{};
    if (hb::block::count().value_or(0) < 1 || !hb::block::info(0, disk).ok()) {
        say("block-rounds: no BLOCK device 0 (run with --disk FILE)\n");
        (void)hb::power::shutdown(1);
    }
    const uint64_t disk_bytes = disk.sector_count * disk.sector_size;
    if (chunk == 0 || chunk > largest_chunk || chunk > disk.max_transfer || chunk % disk.sector_size != 0 ||
        disk_bytes < chunk || total < chunk) {
        say("block-rounds: CHUNK must be a multiple of the sector size, at most 1 MiB and max_transfer, "
            "no larger than the disk or TOTAL\n");
        (void)hb::power::shutdown(1);
    }
    for (uint64_t i = 0; i < chunk; ++i)  // something other than zeros
        buffer[i] = static_cast<unsigned char>(i * 131 + 7);
    const uint64_t calls = total / chunk;
    const uint64_t wrap = disk_bytes - disk_bytes % chunk;  // whole chunks only

    uint64_t failures = 0, offset = 0;
    uint64_t t0 = hb::time::monotonic_ns().value;
    for (uint64_t i = 0; i < calls; ++i) {
        stamp() = stamp_of(offset);
        failures += !hb::block::write(0, offset / disk.sector_size, buffer, chunk).ok();
        offset += chunk;
        if (offset == wrap)
            offset = 0;
    }
    uint64_t t1 = hb::time::monotonic_ns().value;
    report("block-write", chunk, calls * chunk, calls, t1 - t0, failures);
    const uint64_t write_failures = failures;

    failures = 0;
    offset = 0;
    t0 = hb::time::monotonic_ns().value;
    for (uint64_t i = 0; i < calls; ++i) {
        failures += !hb::block::read(0, offset / disk.sector_size, buffer, chunk).ok();
        failures += stamp() != stamp_of(offset);
        offset += chunk;
        if (offset == wrap)
            offset = 0;
    }
    t1 = hb::time::monotonic_ns().value;
    report("block-read", chunk, calls * chunk, calls, t1 - t0, failures);
    (void)hb::power::shutdown(failures || write_failures ? 1 : 0);
}
