// tar: lists a tar archive on a BLOCK device and prints its text files.
//
// The archive is the device itself, as `tar -cf` wrote it (ustar: 512-byte
// headers, each followed by the file's data rounded up to 512 bytes; two zero
// blocks at the end). The kernel reads it through BLOCK in chunks of whole
// sectors (512 or 4096 bytes: whatever the device's info says) and prints, on
// CONSOLE, one line per entry and the contents of every regular file:
//
//     tar: device 0, 40 sectors of 512 bytes
//     file "hello.txt", 26 bytes
//     Hello from a tar archive!
//     directory "notes/", 0 bytes
//     tar: 2 entries, 1 files, 26 bytes
//
// A file whose contents do not end with a newline gets one after them. It reads
// device 0, or device N with the kernel argument `device=N`:
//
//     hbvm run build/examples/tar/tar.elf --disk archive.tar,ro
//
// Exit codes: 0 the archive was read to its end; 1 a damaged or truncated
// archive; 2 no HyperBIOS host, no BLOCK service or no such device.
#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;

namespace {

constexpr uint64_t block_size = 512;  // tar's unit, whatever the device's sector size

void say(const char* text, size_t length)
{
    while (length) {
        const auto r = hb::console::write(text, length);
        if (!r.ok() || r.value == 0 || r.value > length)
            return;
        text += r.value;
        length -= r.value;
    }
}

void say(const char* text)
{
    size_t n = 0;
    while (text[n])
        ++n;
    say(text, n);
}

[[noreturn]] void stop(uint8_t code)
{
    (void)hb::power::shutdown(code);
    hb::fallback::power_off_emulator(code);
}

[[noreturn]] void fail(const char* why, uint8_t code)
{
    hb::text::line<200> l;
    l.put("tar: ").put(why).put('\n');
    say(l.c_str());
    stop(code);
}

// The device, read a chunk of whole sectors at a time.
struct disk {
    uint16_t device = 0;
    uint64_t sector = 0, bytes = 0, chunk_size = 0;
    uint64_t chunk_start = ~0ull;  // the byte offset of what `chunk` holds
    alignas(4096) uint8_t chunk[64 * 1024];

    // The 512-byte block at byte offset `offset` (a multiple of 512), or null
    // past the end or when the read fails.
    const uint8_t* block(uint64_t offset)
    {
        if (offset + block_size > bytes)
            return nullptr;
        const uint64_t start = offset / chunk_size * chunk_size;
        if (start != chunk_start) {
            const uint64_t n = bytes - start < chunk_size ? bytes - start : chunk_size;
            if (!hb::block::read(device, start / sector, chunk, n).ok())
                return nullptr;
            chunk_start = start;
        }
        return chunk + (offset - chunk_start);
    }
};

disk archive;

// A numeric header field: octal digits, maybe padded with spaces or NULs; or
// GNU's base-256 form (high bit of the first byte set) for large values.
bool number(const uint8_t* field, size_t width, uint64_t& value)
{
    value = 0;
    if (field[0] & 0x80) {
        for (size_t i = 1; i < width; ++i) {
            if (value >> 56)
                return false;
            value = value << 8 | field[i];
        }
        return true;
    }
    size_t i = 0;
    while (i < width && field[i] == ' ')
        ++i;
    for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) {
        if (value >> 60)
            return false;
        value = value << 3 | uint64_t(field[i] - '0');
    }
    return i == width || field[i] == ' ' || field[i] == 0;
}

bool all_zero(const uint8_t* p)
{
    for (uint64_t i = 0; i < block_size; ++i)
        if (p[i])
            return false;
    return true;
}

// The header's checksum: the sum of its bytes with the checksum field as spaces.
bool checksum_ok(const uint8_t* h)
{
    uint64_t stored;
    if (!number(h + 148, 8, stored))
        return false;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < block_size; ++i)
        sum += (i >= 148 && i < 156) ? uint8_t(' ') : h[i];
    return sum == stored;
}

// Appends a NUL-padded field of at most `width` bytes.
template <size_t N>
void put_field(hb::text::line<N>& l, const uint8_t* field, size_t width)
{
    for (size_t i = 0; i < width && field[i]; ++i)
        l.put(char(field[i]));
}

char long_name[1024];  // a GNU 'L' entry's name for the entry after it
bool have_long_name;

const char* kind(uint8_t type)
{
    switch (type) {
    case '0': case 0: case '7': return "file";
    case '1': return "hard link";
    case '2': return "symbolic link";
    case '3': return "character device";
    case '4': return "block device";
    case '5': return "directory";
    case '6': return "fifo";
    default: return "entry";
    }
}

uint16_t device_from_command_line(const char* command_line)
{
    // "device=N" anywhere in the command line.
    for (const char* p = command_line; *p; ++p) {
        const char* key = "device=";
        size_t k = 0;
        while (key[k] && p[k] == key[k])
            ++k;
        if (key[k] || (p != command_line && p[-1] != ' '))
            continue;
        uint32_t n = 0;
        for (const char* d = p + k; *d >= '0' && *d <= '9' && n < 0x10000; ++d)
            n = n * 10 + uint32_t(*d - '0');
        return uint16_t(n < 0xFFFF ? n : 0xFFFF);
    }
    return 0;
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    const hb::host_info& host = hb::detect();
    if (!host.present) {
        hb::fallback::debugcon_write("tar: no HyperBIOS host present; ending the run\n");
        hb::fallback::power_off_emulator(2);
    }
    static hb::boot::boot_info boot;
    boot.read(magic, info);
    archive.device = device_from_command_line(boot.command_line());

    const auto count = hb::block::count();
    if (!count.ok())
        fail("the host offers no BLOCK service", 2);
    if (archive.device >= count.value)
        fail(count.value ? "no such device (device=N names one of BLOCK's devices, from 0)"
                         : "no BLOCK device: give the host the archive, e.g. --disk archive.tar,ro",
             2);
    hb::block::info_record record{};
    if (!hb::block::info(archive.device, record).ok() || record.version < 1 ||
        (record.sector_size != 512 && record.sector_size != 4096) || record.max_transfer < sizeof archive.chunk)
        fail("BLOCK.info failed or describes a device this kernel cannot read", 2);
    archive.sector = record.sector_size;
    archive.bytes = record.sector_count * record.sector_size;
    archive.chunk_size = sizeof archive.chunk;

    hb::text::line<200> l;
    l.put("tar: device ").dec(archive.device).put(", ").dec(record.sector_count).put(" sectors of ")
        .dec(record.sector_size).put(" bytes\n");
    say(l.c_str());

    uint64_t offset = 0, entries = 0, files = 0, file_bytes = 0;
    for (;;) {
        const uint8_t* h = archive.block(offset);
        if (!h)
            fail("the archive ends without its two zero blocks (truncated)", 1);
        if (all_zero(h))
            break;  // the end (a second zero block follows; some writers leave it out)
        if (!checksum_ok(h)) {
            l.clear();
            l.put("a damaged header at byte ").dec(offset).put(" (bad checksum)");
            fail(l.c_str(), 1);
        }
        uint64_t size;
        if (!number(h + 124, 12, size) || size > archive.bytes)
            fail("a header with a size this archive cannot hold", 1);
        const uint8_t type = h[156];
        const uint64_t data = offset + block_size;
        const uint64_t next = data + (size + block_size - 1) / block_size * block_size;

        if (type == 'L') {  // GNU long name: the data is the next entry's name
            uint64_t n = 0;
            for (uint64_t at = 0; at < size && n + 1 < sizeof long_name; at += block_size) {
                const uint8_t* b = archive.block(data + at);
                if (!b)
                    fail("the archive is truncated inside a long name", 1);
                for (uint64_t i = 0; i < block_size && at + i < size && n + 1 < sizeof long_name && b[i]; ++i)
                    long_name[n++] = char(b[i]);
            }
            long_name[n] = 0;
            have_long_name = true;
            offset = next;
            continue;
        }
        if (type == 'x' || type == 'g') {  // pax extended headers: skipped
            offset = next;
            continue;
        }

        // The name: a GNU long name, or ustar's prefix "/" name.
        hb::text::line<1100> name;
        if (have_long_name) {
            name.put(long_name);
            have_long_name = false;
        } else {
            const bool ustar = h[257] == 'u' && h[258] == 's' && h[259] == 't' && h[260] == 'a' && h[261] == 'r';
            if (ustar && h[345]) {
                put_field(name, h + 345, 155);
                name.put('/');
            }
            put_field(name, h, 100);
        }

        ++entries;
        l.clear();
        l.put(kind(type)).put(" \"");
        say(l.c_str());
        say(name.c_str());
        l.clear();
        l.put("\", ").dec(size).put(" bytes");
        if (type == '1' || type == '2') {
            l.put(" -> ");
            put_field(l, h + 157, 100);
        }
        say(l.put('\n').c_str());

        const bool regular = type == '0' || type == 0 || type == '7';
        if (regular) {
            ++files;
            file_bytes += size;
            char last = '\n';
            for (uint64_t at = 0; at < size; at += block_size) {
                const uint8_t* b = archive.block(data + at);
                if (!b)
                    fail("the archive is truncated inside a file", 1);
                const uint64_t n = size - at < block_size ? size - at : block_size;
                say(reinterpret_cast<const char*>(b), n);
                last = char(b[n - 1]);
            }
            if (last != '\n')
                say("\n");
        }
        offset = next;
    }

    l.clear();
    l.put("tar: ").dec(entries).put(" entries, ").dec(files).put(" files, ").dec(file_bytes).put(" bytes\n");
    say(l.c_str());
    stop(0);
}
