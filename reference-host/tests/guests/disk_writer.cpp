// Writes and checks a disk through BLOCK, for the durability tests
// (test_block_durability.py). The kernel argument chooses:
//   1  write 4 KiB blocks 0, 1, 2... (block n holds pattern(n)), printing
//      "wrote n" on the console after each write has returned, until the disk
//      is full; the test kills hbvm somewhere in between;
//   2  check the blocks and print "intact-through M": blocks 0..M-1 hold their
//      pattern (block M does not, or the disk ends);
//   3  write block 0, flush, then print "flushed" (the strace test checks that
//      the host's sync comes before this line);
//   4  write sectors 0-4 in one call, sector n holding pattern(n) over its
//      bytes, and print "write STATUS" (the test gives hbvm a file-size limit
//      inside sector 2 and looks at what each sector holds afterwards);
//   5  print "count N", then "device I NAME" for every device (the name up to
//      the first NUL or all 32 bytes).
#include "guest_args.hpp"
#include "report.hpp"

#include <hyperbios/boot/multiboot.hpp>

namespace hb = hyperbios;

namespace {

constexpr size_t block_bytes = 4096;
alignas(4096) uint8_t block[block_bytes];

uint8_t pattern(uint64_t n, size_t i) { return uint8_t((n * 131 + i * 7 + (i >> 8) * 13 + 1) ^ (n >> 8)); }

void fill(uint64_t n)
{
    for (size_t i = 0; i < block_bytes; ++i)
        block[i] = pattern(n, i);
}

bool holds(uint64_t n)
{
    for (size_t i = 0; i < block_bytes; ++i)
        if (block[i] != pattern(n, i))
            return false;
    return true;
}

void say(const char* what, uint64_t n)
{
    hb::text::line<64> l;
    l.put(what).put(' ').dec(n).put('\n');
    (void)hb::console::write(l.c_str(), l.size());
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    const uint64_t mode = test_guest::first_number_argument(magic, info, 0);
    hb::block::info_record d{};
    if (!hb::block::info(0, d).ok() || d.sector_size == 0) {
        (void)hb::console::write("disk_writer: no disk 0\n");
        (void)hb::power::shutdown(2);
    }
    const uint64_t blocks = d.sector_count * d.sector_size / block_bytes;
    const uint64_t per_block = block_bytes / d.sector_size;
    if (mode == 1) {
        for (uint64_t n = 0; n < blocks; ++n) {
            fill(n);
            if (!hb::block::write(0, n * per_block, block, block_bytes).ok())
                (void)hb::power::shutdown(3);
            say("wrote", n);
        }
        (void)hb::power::shutdown(0);
    }
    if (mode == 2) {
        uint64_t n = 0;
        for (; n < blocks; ++n)
            if (!hb::block::read(0, n * per_block, block, block_bytes).ok() || !holds(n))
                break;
        say("intact-through", n);
        (void)hb::power::shutdown(0);
    }
    if (mode == 3) {
        fill(0);
        if (!hb::block::write(0, 0, block, block_bytes).ok() || !hb::block::flush(0).ok())
            (void)hb::power::shutdown(3);
        (void)hb::console::write("flushed\n");
        (void)hb::power::shutdown(0);
    }
    if (mode == 5) {
        const auto count = hb::block::count();
        hb::text::line<128> l;
        l.put("count ").dec(count.value_or(0)).put('\n');
        (void)hb::console::write(l.c_str(), l.size());
        for (uint64_t i = 0; i < count.value_or(0); ++i) {
            hb::block::info_record r{};
            if (!hb::block::info(uint16_t(i), r).ok())
                (void)hb::power::shutdown(3);
            l.clear();
            l.put("device ").dec(i).put(' ');
            for (size_t k = 0; k < sizeof r.name && r.name[k]; ++k)
                l.put(char(r.name[k]));
            l.put('\n');
            (void)hb::console::write(l.c_str(), l.size());
        }
        (void)hb::power::shutdown(0);
    }
    if (mode == 4 && d.sector_size <= 4096) {
        static uint8_t sectors[5 * 4096];
        for (uint64_t n = 0; n < 5; ++n)
            for (size_t i = 0; i < d.sector_size; ++i)
                sectors[n * d.sector_size + i] = pattern(n, i);
        const auto r = hb::block::write(0, 0, sectors, 5 * d.sector_size);
        hb::text::line<64> l;
        l.put("write ").put(hb::abi::status_name(r.code)).put('\n');
        (void)hb::console::write(l.c_str(), l.size());
        (void)hb::power::shutdown(0);
    }
    (void)hb::console::write("disk_writer: give a mode: 1 write, 2 check, 3 write+flush, 4 five sectors\n");
    (void)hb::power::shutdown(2);
}
