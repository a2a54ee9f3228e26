// BLOCK service (spec chapter 12): count and info, reads and writes at every
// boundary of the device and of a transfer, vectored transfers and the checks
// they make before moving a byte, read-only devices, flush, and writes that
// survive a reboot.
//
// The disks come from the driver (conform.py, `{disk0}`..`{disk3}` in --host):
// fresh files whose byte i is a fixed function of (disk number, i), the same
// function as disk_word() below. The image tells the devices apart by their
// contents, so it checks what it reads against what the file held, and it writes
// only to disks it recognised. What it leaves on a disk it tells the driver
// (EXPECT-DISK), which compares the files after the run; a read-only disk's file
// must come back unchanged. A device the image does not recognise (a host's own
// disk) is read, never written.
//
// The first boot writes a region of every writable disk and reboots through
// POWER.reboot; the second boot runs every check and reads the region back
// (HB-BLK-006 across a reset; the driver counts the two starts).
#include "image.hpp"

extern "C" char __hyperbios_bss_end[];

namespace conformance {

namespace {

using fn = hb::abi::function;
using hb::abi::blk_info;
using hb::abi::blk_segment;

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB;

// ---------------------------------------------------------------------------
// The driver's disks: byte i of disk d is byte (i & 7) of disk_word(d, i >> 3),
// little-endian (conform.py disk_content). Regions the image writes hold the
// same function of another number (a "tag" from 0x100 up), so every byte the
// image expects is known by its offset alone.
// ---------------------------------------------------------------------------

constexpr unsigned driver_disks = 4;

uint64_t disk_word(uint64_t disk, uint64_t word)
{
    uint64_t x = word * 0x9E3779B97F4A7C15ull + (disk + 1) * 0xD1B54A32D192ED03ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

// dst[i] = byte (offset + i) of disk or tag `source`.
void fill_content(uint8_t* dst, uint64_t source, uint64_t offset, uint64_t n)
{
    uint64_t i = 0;
    for (; i < n && ((offset + i) & 7); ++i)
        dst[i] = uint8_t(disk_word(source, (offset + i) >> 3) >> (8 * ((offset + i) & 7)));
    if ((uintptr_t(dst + i) & 7) == 0)  // whole words: one store each
        for (; i + 8 <= n; i += 8)
            *reinterpret_cast<uint64_t*>(dst + i) = disk_word(source, (offset + i) >> 3);
    for (; i < n; ++i)
        dst[i] = uint8_t(disk_word(source, (offset + i) >> 3) >> (8 * ((offset + i) & 7)));
}

void fill_bytes(uint8_t* dst, uint8_t value, uint64_t n)
{
    uint64_t i = 0;
    for (; i < n && (uintptr_t(dst + i) & 7); ++i)
        dst[i] = value;
    const uint64_t word = 0x0101010101010101ull * value;
    for (; i + 8 <= n; i += 8)
        *reinterpret_cast<uint64_t*>(dst + i) = word;
    for (; i < n; ++i)
        dst[i] = value;
}

void copy_bytes(uint8_t* dst, const uint8_t* src, uint64_t n)
{
    for (uint64_t i = 0; i < n; ++i)
        dst[i] = src[i];
}

// The first index at which a and b differ, or n.
uint64_t first_difference(const uint8_t* a, const uint8_t* b, uint64_t n)
{
    uint64_t i = 0;
    if (((uintptr_t(a) ^ uintptr_t(b)) & 7) == 0) {
        for (; i < n && (uintptr_t(a + i) & 7); ++i)
            if (a[i] != b[i])
                return i;
        for (; i + 8 <= n; i += 8)
            if (*reinterpret_cast<const uint64_t*>(a + i) != *reinterpret_cast<const uint64_t*>(b + i))
                break;
    }
    for (; i < n; ++i)
        if (a[i] != b[i])
            return i;
    return n;
}

// The first index at which p[0, n) differs from `value`, or n.
uint64_t first_not(const uint8_t* p, uint8_t value, uint64_t n)
{
    uint64_t i = 0;
    for (; i < n && (uintptr_t(p + i) & 7); ++i)
        if (p[i] != value)
            return i;
    const uint64_t word = 0x0101010101010101ull * value;
    for (; i + 8 <= n; i += 8)
        if (*reinterpret_cast<const uint64_t*>(p + i) != word)
            break;
    for (; i < n; ++i)
        if (p[i] != value)
            return i;
    return n;
}

// ---------------------------------------------------------------------------
// Memory: the buffers are taken from the largest RAM range the loader reported
// above the image, below 4 GiB (which the boot stub always maps): a transfer one sector
// over max_transfer needs a buffer that large in RAM, whatever the host's
// max_transfer is.
// ---------------------------------------------------------------------------

struct arena {
    uint8_t* next = nullptr;
    uint64_t left = 0;

    uint8_t* take(uint64_t n)
    {
        n = (n + 4095) & ~4095ull;
        if (n > left)
            return nullptr;
        uint8_t* p = next;
        next += n;
        left -= n;
        return p;
    }
};

arena find_free_ram()
{
    const uint64_t low = (uint64_t(uintptr_t(__hyperbios_bss_end)) + MiB) & ~(MiB - 1);  // a margin after the image
    const uint64_t high = 1ull << 32;
    uint64_t best_base = 0, best_size = 0;
    for (const auto& r : loader_info.memory_map()) {
        if (!r.is_usable())
            continue;
        uint64_t base = r.base > low ? r.base : low;
        uint64_t end = r.end() < high ? r.end() : high;
        base = (base + 4095) & ~4095ull;
        end &= ~4095ull;
        if (end > base && end - base > best_size && in_reported_ram(base, end - base))
            best_base = base, best_size = end - base;
    }
    return {reinterpret_cast<uint8_t*>(uintptr_t(best_base)), best_size};
}

constexpr uint8_t guard_byte = 0xE7;  // what buffers hold where the host must not write
constexpr uint64_t guard = 64;        // guard bytes checked on each side of a buffer

// Large transfers are watched, not read whole: every guest instruction counts
// where a host emulates them (KVM under QEMU runs ~1 us each), and checking
// megabytes byte for byte would take minutes there. A large buffer is watched
// at its first and last 64 KiB and at one sector in every 64 KiB between (the
// driver's disks differ in every 8 bytes, so a missing or misplaced sector
// shows); smaller ones whole.
constexpr uint64_t watch_window = 64 * KiB;

bool watched(uint64_t offset, uint64_t n, uint64_t sector)
{
    return n <= 3 * watch_window || offset < watch_window || offset >= n - watch_window ||
           offset % watch_window < sector;
}

// ---------------------------------------------------------------------------
// Devices and what the image knows of their contents.
// ---------------------------------------------------------------------------

struct region {
    uint64_t offset, length, tag;
    const char* requirement;  // what the driver checks with EXPECT-DISK
};

constexpr unsigned max_devices = 8;
constexpr unsigned max_regions = 16;

struct device {
    uint16_t index = 0;
    bool info_ok = false;
    blk_info info{};
    uint64_t record_size = 0;   // RDX of info
    uint64_t after_record_clean = 0;  // how many bytes after the record stayed untouched
    uint64_t sector = 0;        // bytes per sector
    uint64_t sectors = 0;       // capacity in sectors
    uint64_t bytes = 0;
    uint64_t max_transfer = 0;
    uint64_t max_segments = 0;
    bool read_only = false;
    int disk = -1;              // the driver's disk number, or -1: not one of the driver's
    region regions[max_regions];
    unsigned region_count = 0;

    bool known() const { return disk >= 0; }
    // The driver's disk2 is meant read-only: never written, even when the host
    // (wrongly) lets it be, so the driver's "unchanged" comparison still holds.
    bool writable_disk() const { return known() && !read_only && disk != 2; }
};

device devices[max_devices];
unsigned device_count;  // devices tested (at most max_devices)

// Where the image writes on a driver's writable disk (byte offsets).
constexpr uint64_t identity_offset = 64 * KiB;  // read to recognise the disk; never written
constexpr uint64_t reboot_offset = 128 * KiB, reboot_length = 16 * KiB;
constexpr uint64_t vectored_offset = 192 * KiB;  // up to 64 KiB of vectored writes
constexpr uint64_t large_offset = 256 * KiB;
constexpr uint64_t tail_reserve = 64 * KiB;  // the last sectors, written by the end-of-device checks
constexpr uint64_t smallest_writable = large_offset + tail_reserve + 4096;

// Tags: what a written region holds (fill_content with the tag for the disk).
constexpr uint64_t tag_first = 0x101, tag_last = 0x102, tag_end = 0x103, tag_large = 0x104, tag_vectored = 0x105,
                   tag_reboot = 0x106, tag_unaligned = 0x107;

void remember(device& d, uint64_t offset, uint64_t length, uint64_t tag, const char* requirement)
{
    if (d.region_count < max_regions)
        d.regions[d.region_count++] = {offset, length, tag, requirement};
}

// What the image expects at [offset, offset + n) of a recognised device: the
// disk's own contents, overlaid with every region written since, in order.
void expected_content(const device& d, uint8_t* dst, uint64_t offset, uint64_t n)
{
    fill_content(dst, uint64_t(d.disk), offset, n);
    for (unsigned r = 0; r < d.region_count; ++r) {
        const region& g = d.regions[r];
        const uint64_t from = g.offset > offset ? g.offset : offset;
        const uint64_t to = g.offset + g.length < offset + n ? g.offset + g.length : offset + n;
        if (from < to)
            fill_content(dst + (from - offset), g.tag, from, to - from);
    }
}

// Compares `got` with what the device should hold at `offset`; on a difference,
// names where in `why`.
uint8_t expected_chunk[4096];

bool matches_device(const device& d, const uint8_t* got, uint64_t offset, uint64_t n, line& why)
{
    for (uint64_t done = 0; done < n;) {
        const uint64_t piece = n - done < sizeof expected_chunk ? n - done : sizeof expected_chunk;
        expected_content(d, expected_chunk, offset + done, piece);
        const uint64_t at = first_difference(got + done, expected_chunk, piece);
        if (at != piece) {
            why.put("byte ").hex(offset + done + at).put(" of disk").dec(unsigned(d.disk)).put(" is ").hex(got[done + at])
                .put(", expected ").hex(expected_chunk[at]);
            return false;
        }
        done += piece;
    }
    return true;
}

// The same for the watched sectors of a transfer of n bytes from `offset`.
bool watched_match_device(const device& d, const uint8_t* got, uint64_t offset, uint64_t n, line& why)
{
    for (uint64_t at = 0; at < n; at += d.sector)
        if (watched(at, n, d.sector) && !matches_device(d, got + at, offset + at, d.sector, why))
            return false;
    return true;
}

// ---------------------------------------------------------------------------
// Calls.
// ---------------------------------------------------------------------------

raw_result block_read(const device& d, uint64_t first, const void* buffer, uint64_t length)
{
    return raw_call(uint64_t(fn::block_read), d.index, first, uint64_t(uintptr_t(buffer)), length);
}

raw_result block_write(const device& d, uint64_t first, const void* buffer, uint64_t length)
{
    return raw_call(uint64_t(fn::block_write), d.index, first, uint64_t(uintptr_t(buffer)), length);
}

raw_result block_vectored(bool write, const device& d, uint64_t first, const blk_segment* list, uint64_t list_bytes)
{
    return raw_call(uint64_t(write ? fn::block_write_vectored : fn::block_read_vectored), d.index, first,
                    uint64_t(uintptr_t(list)), list_bytes);
}

raw_result block_info(uint16_t device_index, void* buffer, uint64_t length)
{
    return raw_call(uint64_t(fn::block_info), device_index, uint64_t(uintptr_t(buffer)), length);
}

// "status X, RDX Y" for a failure's detail.
line& outcome(line& l, raw_result r)
{
    return l.put("status ").put(hb::abi::status_name(r.code())).put(", RDX ").hex(r.value);
}

// A description naming the device: "<what> on device 1 (disk0, 512-byte sectors)".
line describe(const device& d, const char* what)
{
    line l;
    l.put(what).put(" on device ").dec(d.index).put(" (");
    if (d.known())
        l.put("disk").dec(unsigned(d.disk)).put(", ");
    else
        l.put("not one of the driver's disks, ");
    l.dec(d.sector).put("-byte sectors").put(d.read_only ? ", read-only)" : ")");
    return l;
}

// The buffers every check shares.
uint8_t* io;           // io_capacity bytes, with `guard` bytes before it that belong to it
uint64_t io_capacity;  // room for a transfer, after the front guard; 0: none
uint8_t* scatter;      // 64 KiB for vectored segments, sectors apart
constexpr uint64_t scatter_size = 64 * KiB;
blk_segment* list;     // room for list_capacity segments
uint64_t list_capacity;
uint8_t* copy;         // a second buffer of io_capacity bytes, for contents to compare
uint64_t ram_outside;  // an address outside RAM

// Fills [io - guard, io + n + guard) with guard bytes.
void clear_io(uint64_t n) { fill_bytes(io - guard, guard_byte, n + 2 * guard); }

// Guard bytes in the watched parts of buffer[0, n) and the `guard` bytes on
// each side (io and copy have room for them).
void clear_watched(uint8_t* buffer, uint64_t n, uint64_t sector)
{
    fill_bytes(buffer - guard, guard_byte, guard);
    fill_bytes(buffer + n, guard_byte, guard);
    for (uint64_t at = 0; at < n; at += sector)
        if (watched(at, n, sector))
            fill_bytes(buffer + at, guard_byte, sector < n - at ? sector : n - at);
}

// Whether the watched parts of buffer[0, n) and its guards still hold guard bytes.
bool watched_clear(const uint8_t* buffer, uint64_t n, uint64_t sector)
{
    if (first_not(buffer - guard, guard_byte, guard) != guard || first_not(buffer + n, guard_byte, guard) != guard)
        return false;
    for (uint64_t at = 0; at < n; at += sector) {
        const uint64_t piece = sector < n - at ? sector : n - at;
        if (watched(at, n, sector) && first_not(buffer + at, guard_byte, piece) != piece)
            return false;
    }
    return true;
}

bool io_guards_intact(uint64_t n)
{
    return first_not(io - guard, guard_byte, guard) == guard && first_not(io + n, guard_byte, guard) == guard;
}

// Reads [first, first + sectors) of the device into `copy` (for "unchanged" checks).
bool read_to_copy(const device& d, uint64_t first, uint64_t count)
{
    const raw_result r = block_read(d, first, copy, count * d.sector);
    return r.code() == hb::status::success && r.value == count * d.sector;
}

// Whether the device still holds what the image expects at [first, first + count)
// sectors: for a recognised device against the model, else against `before`
// (an earlier read).
bool unchanged(const device& d, uint64_t first, uint64_t count, const uint8_t* before, line& why)
{
    if (!read_to_copy(d, first, count)) {
        why.put("the device could not be read back");
        return false;
    }
    if (d.known())
        return matches_device(d, copy, first * d.sector, count * d.sector, why);
    const uint64_t at = first_difference(copy, before, count * d.sector);
    if (at != count * d.sector) {
        why.put("byte ").hex(first * d.sector + at).put(" changed");
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------
// HB-BLK-001 and HB-BLK-002: count and info.
// ---------------------------------------------------------------------------

constexpr uint64_t info_buffer_size = 256;
alignas(16) uint8_t info_buffer[info_buffer_size];
alignas(16) uint8_t full_record[info_buffer_size];

void learn_device(device& d, uint16_t index)
{
    d = device{};
    d.index = index;
    fill_bytes(info_buffer, 0xA5, sizeof info_buffer);
    const raw_result r = block_info(index, info_buffer, sizeof info_buffer);
    d.record_size = r.value;
    if (r.code() != hb::status::success || r.value < sizeof(blk_info))
        return;
    for (uint64_t i = 0; i < sizeof info_buffer; ++i)
        full_record[i] = info_buffer[i];
    __builtin_memcpy(&d.info, info_buffer, sizeof d.info);
    d.after_record_clean = first_not(info_buffer + (d.record_size < info_buffer_size ? d.record_size : info_buffer_size),
                                     0xA5, info_buffer_size - (d.record_size < info_buffer_size ? d.record_size
                                                                                                 : info_buffer_size));
    d.info_ok = true;
    d.sector = d.info.sector_size;
    d.sectors = d.info.sector_count;
    d.max_transfer = d.info.max_transfer;
    d.max_segments = d.info.max_segments;
    d.read_only = d.info.flags & hb::abi::blk_flags::read_only;
    if ((d.sector != 512 && d.sector != 4096) || d.sectors > (~0ull >> 12))
        return;
    d.bytes = d.sectors * d.sector;
}

// Which of the driver's disks the device is, from a sector the image never writes.
void recognise(device& d)
{
    d.disk = -1;
    if (!d.info_ok || d.bytes < identity_offset + d.sector || !io)
        return;
    clear_io(d.sector);
    const raw_result r = block_read(d, identity_offset / d.sector, io, d.sector);
    if (r.code() != hb::status::success)
        return;
    for (unsigned disk = 0; disk < driver_disks; ++disk) {
        fill_content(copy, disk, identity_offset, d.sector);
        if (first_difference(io, copy, d.sector) == d.sector) {
            d.disk = int(disk);
            return;
        }
    }
}

const uint8_t* info_buffer_copy(const device& d) { return reinterpret_cast<const uint8_t*>(&d.info); }

void check_info(device& d)
{
    const char* const req = "HB-BLK-002";
    {
        line why;
        why.put("status ").put(d.info_ok ? "SUCCESS" : "not SUCCESS").put(", RDX ").dec(d.record_size);
        if (!check(req, d.info_ok, describe(d, "info returns SUCCESS and the record's size, at least 88, in RDX").c_str(),
                   why.c_str()))
            return;
    }
    // The record again, as the prefixes below are compared with it.
    fill_bytes(full_record, 0xA5, sizeof full_record);
    const raw_result again = block_info(d.index, full_record, sizeof full_record);
    {
        line why;
        outcome(why, again);
        check(req, again.code() == hb::status::success && again.value == d.record_size &&
                       first_difference(full_record, info_buffer_copy(d), sizeof(blk_info)) == sizeof(blk_info),
              describe(d, "info returns the same record every time").c_str(), why.c_str());
    }
    const blk_info& i = d.info;
    {
        line why;
        why.put("size ").dec(i.size).put(", version ").dec(i.version).put(", RDX ").dec(d.record_size);
        check(req, i.size == d.record_size && i.version >= 1 && (i.version != 1 || i.size == 88),
              describe(d, "the record's size equals RDX and is 88 for version 1").c_str(), why.c_str());
    }
    {
        const uint64_t end = d.record_size < info_buffer_size ? d.record_size : info_buffer_size;
        line why;
        why.put("a byte from ").dec(d.record_size).put(" on was written");
        check(req, d.after_record_clean == info_buffer_size - end &&
                       first_not(full_record + end, 0xA5, info_buffer_size - end) == info_buffer_size - end,
              describe(d, "info into a larger buffer writes the record and nothing after it").c_str(), why.c_str());
    }
    {
        line why;
        why.put("sector_size ").dec(i.sector_size).put(", max_transfer ").dec(i.max_transfer).put(", max_segments ")
            .dec(i.max_segments);
        check(req, (i.sector_size == 512 || i.sector_size == 4096) && i.max_transfer >= MiB &&
                       i.sector_size != 0 && i.max_transfer % i.sector_size == 0 && i.max_segments >= 256,
              describe(d, "sector_size is 512 or 4096, max_transfer at least 1 MiB and a multiple of it, "
                          "max_segments at least 256").c_str(),
              why.c_str());
    }
    {
        line why;
        why.put("flags ").hex(i.flags).put(", reserved0 ").hex(i.reserved0).put(", reserved1 ").hex(i.reserved1);
        constexpr uint32_t defined = hb::abi::blk_flags::read_only | hb::abi::blk_flags::volatile_write_cache;
        check(req, (i.flags & ~defined) == 0 && i.reserved0 == 0 && i.reserved1 == 0,
              describe(d, "reserved fields and flags are zero, discard and write_zeroes clear").c_str(), why.c_str());
    }
    {
        bool padded = true, ended = false;
        for (uint8_t c : i.name) {
            padded = padded && (!ended || c == 0);
            ended = ended || c == 0;
        }
        check(req, padded, describe(d, "the name is padded with NUL bytes after its end").c_str());
    }
    // Short buffers: exactly the first `length` bytes, twice with different
    // fill bytes so that a stray byte equal to the fill cannot hide.
    bool prefixes_ok = true;
    line why;
    for (uint64_t length : {0ull, 1ull, 4ull, 7ull, 8ull, 16ull, 20ull, 32ull, 64ull, 84ull, 87ull}) {
        for (uint8_t fill : {uint8_t(0xA5), uint8_t(0x5A)}) {
            fill_bytes(info_buffer, fill, sizeof info_buffer);
            const raw_result r = block_info(d.index, info_buffer, length);
            const uint64_t same = first_difference(info_buffer, full_record, length);
            const uint64_t after = first_not(info_buffer + length, fill, sizeof info_buffer - length);
            if (prefixes_ok && (r.code() != hb::status::success || r.value != d.record_size || same != length ||
                                after != sizeof info_buffer - length)) {
                prefixes_ok = false;
                why.put("length ").dec(length).put(": ");
                outcome(why, r);
                if (same != length)
                    why.put(", byte ").dec(same).put(" differs from the full record");
                if (after != sizeof info_buffer - length)
                    why.put(", byte ").dec(length + after).put(" written past the length");
            }
        }
    }
    check(req, prefixes_ok,
          describe(d, "info into buffers of 0 to 87 bytes returns the full size and writes exactly that prefix").c_str(),
          why.c_str());
}

// ---------------------------------------------------------------------------
// HB-BLK-003, -004, -005, -006: plain reads and writes.
// ---------------------------------------------------------------------------

// Reads `count` sectors from `first` into io and checks the status, RDX, the
// guards and, on a recognised device, the contents. Leaves the data in io.
bool read_checked(const char* req, const device& d, uint64_t first, uint64_t count, const char* what)
{
    const uint64_t n = count * d.sector;
    clear_watched(io, n, d.sector);
    const raw_result r = block_read(d, first, io, n);
    line why;
    bool ok = r.code() == hb::status::success && r.value == n;
    if (!ok)
        outcome(why, r);
    else if (!io_guards_intact(n))
        ok = false, why.put("bytes outside the buffer were written");
    else if (d.known())
        ok = watched_match_device(d, io, first * d.sector, n, why);
    check(req, ok, describe(d, what).c_str(), why.c_str());
    return ok;
}

// Writes `count` sectors of `tag` content at `first` from io (plus `shift`
// bytes, for a buffer at an odd address), reads them back, and remembers the
// region. Only on the driver's writable disks.
bool writes_seen = true;  // every write_checked read back what it wrote (HB-BLK-006, same boot)

bool write_checked(device& d, uint64_t first, uint64_t count, uint64_t tag, const char* what, uint64_t shift = 0)
{
    const uint64_t n = count * d.sector;
    fill_content(io + shift, tag, first * d.sector, n);
    const raw_result r = block_write(d, first, io + shift, n);
    line why;
    bool ok = r.code() == hb::status::success && r.value == n;
    if (ok)
        remember(d, first * d.sector, n, tag, "HB-BLK-004");
    if (!ok)
        outcome(why, r);
    else if (clear_watched(copy, n, d.sector), !read_to_copy(d, first, count))
        ok = false, why.put("reading it back failed");
    else
        ok = watched_match_device(d, copy, first * d.sector, n, why);
    check("HB-BLK-004", ok, describe(d, what).c_str(), why.c_str());
    writes_seen = writes_seen && ok;
    return ok;
}

void check_reads(const device& d)
{
    const char* const req = "HB-BLK-003";
    const uint64_t s = d.sector, last = d.sectors - 1;
    read_checked(req, d, 0, 1, "read of the first sector returns it");
    static uint8_t first_sector[4096];
    copy_bytes(first_sector, io, s);
    read_checked(req, d, last, 1, "read of the last sector returns it");
    static uint8_t last_sector[4096];
    copy_bytes(last_sector, io, s);

    // A transfer ending exactly at the end of the device.
    const uint64_t tail = d.sectors < 8 ? d.sectors : 8;
    if (read_checked(req, d, d.sectors - tail, tail, "read of the last 8 sectors, ending exactly at the end"))
        check(req, first_difference(io + (tail - 1) * s, last_sector, s) == s,
              describe(d, "its last sector equals a read of the last sector alone").c_str());

    // One call of max_transfer bytes (as much as the device and the guest's RAM
    // hold), in order: its first sector is the device's first.
    uint64_t large = d.max_transfer < d.bytes ? d.max_transfer : d.bytes;
    if (large > io_capacity)
        large = io_capacity / s * s;
    line what;
    what.put("read of ").dec(large / s).put(" sectors (").dec(large).put(" bytes")
        .put(large == d.max_transfer ? ", max_transfer" : "").put(") in one call");
    if (read_checked(req, d, 0, large / s, what.c_str()))
        check(req, first_difference(io, first_sector, s) == s,
              describe(d, "its first sector equals a read of the first sector alone").c_str());

    // Into a buffer at an odd address (the spec asks no alignment).
    {
        clear_io(s + 1);
        const raw_result r = block_read(d, 0, io + 1, s);
        line why;
        outcome(why, r);
        check(req, r.code() == hb::status::success && r.value == s && first_difference(io + 1, first_sector, s) == s &&
                       io[0] == guard_byte && io[s + 1] == guard_byte,
              describe(d, "read into a buffer at an odd address").c_str(), why.c_str());
    }

    // Length 0: SUCCESS with 0 and nothing written, whatever the first sector.
    for (uint64_t first : {uint64_t(0), d.sectors, d.sectors + 1, ~uint64_t(0)}) {
        clear_io(s);
        const raw_result r = block_read(d, first, io, 0);
        line why;
        outcome(why, r);
        line w;
        w.put("read of length 0 at sector ").hex(first).put(" is SUCCESS with 0 and writes nothing");
        check(req, r.code() == hb::status::success && r.value == 0 && first_not(io - guard, guard_byte, s + 2 * guard) ==
                                                                          s + 2 * guard,
              describe(d, w.c_str()).c_str(), why.c_str());
    }
}

// HB-BLK-005: every way a transfer can be wrong, for read and (on writable
// driver's disks and read-only devices) write; nothing moves.
void check_bounds(const device& d, bool write)
{
    const char* const req = "HB-BLK-005";
    const uint64_t s = d.sector;
    struct bad {
        uint64_t first, length;
        const char* what;
    };
    const uint64_t over = d.max_transfer + s;
    const bad cases[] = {
        {d.sectors, s, "one sector at the first sector past the end"},
        {d.sectors - 1, 2 * s, "two sectors from the last sector (one past the end)"},
        {d.sectors + 7, s, "a sector well past the end"},
        {~0ull, 2 * s, "sector 2^64 - 1 (the range wraps)"},
        {1ull << 63, s, "sector 2^63"},
        {0, 1, "a length of 1 byte"},
        {0, s - 1, "a length of one sector less one byte"},
        {0, s + 1, "a length of one sector and one byte"},
        {0, s / 2, "a length of half a sector"},
        {0, s == 512 ? 3 * s + 1 : 512, s == 512 ? "a length of 3 sectors and one byte" : "a length of 512 bytes"},
        {0, over, "a length one sector over max_transfer"},
    };
    // A write that went through must be seen; compare with the model (or,
    // elsewhere, a read made before).
    const uint64_t look = d.sectors < 3 ? d.sectors : 3;  // sectors looked at around each case
    static uint8_t before[3 * 4096];
    for (const bad& b : cases) {
        line what;
        what.put(write ? "write of " : "read of ").put(b.what).put(" is INVALID_PARAM and moves nothing");
        if (b.length > io_capacity) {
            line why;
            why.put("the image needs ").dec(b.length).put(" bytes of RAM for this buffer; give the guest more RAM");
            check(req, false, describe(d, what.c_str()).c_str(), why.c_str());
            continue;
        }
        if (b.length == over && over > d.bytes && !write) {
            note(describe(d, "max_transfer + one sector reaches past the end of this device, so the next check "
                             "does not isolate the max_transfer limit").c_str());
        }
        const uint64_t around = b.first >= d.sectors ? d.sectors - look : (b.first > d.sectors - look ? d.sectors - look
                                                                                                        : b.first);
        bool have_before = true;
        if (write && !d.known()) {
            have_before = read_to_copy(d, around, look);
            copy_bytes(before, copy, look * s);
        }
        raw_result r;
        if (write) {
            // Content no check expects, where the device is looked at afterwards.
            fill_content(io, tag_first + 0x40, 0, b.length < watch_window ? b.length : watch_window);
            r = block_write(d, b.first, io, b.length);
        } else {
            clear_watched(io, b.length, s);
            r = block_read(d, b.first, io, b.length);
        }
        line why;
        outcome(why, r);
        bool ok = r.code() == hb::status::invalid_param && r.value == 0;
        if (ok && !write && !watched_clear(io, b.length, s))
            ok = false, why.put("; the buffer was written");
        if (ok && write) {
            line unchanged_why;
            if (!have_before || !unchanged(d, around, look, before, unchanged_why))
                ok = false, why.put("; ").put(unchanged_why.c_str());
        }
        check(req, ok, describe(d, what.c_str()).c_str(), why.c_str());
    }
}

void check_writes(device& d)
{
    const uint64_t s = d.sector, last = d.sectors - 1;
    // Round trips at both ends, and a transfer ending exactly at the end.
    write_checked(d, 0, 1, tag_first, "write of the first sector, read back");
    {
        line why;
        check("HB-BLK-004", unchanged(d, 1, 2, nullptr, why),
              describe(d, "the sectors after it are unchanged").c_str(), why.c_str());
    }
    write_checked(d, d.sectors - 8, 8, tag_end, "write of the last 8 sectors, ending exactly at the end, read back");
    write_checked(d, last, 1, tag_last, "write of the last sector, read back");
    {
        line why;
        check("HB-BLK-004", unchanged(d, d.sectors - 8, 8, nullptr, why),
              describe(d, "the 7 sectors before it keep the earlier write").c_str(), why.c_str());
    }
    write_checked(d, 1, 1, tag_unaligned, "write from a buffer at an odd address, read back", 1);

    // One call of 1 MiB (the least max_transfer a host may have; a read of the
    // whole device in one call above goes further), as far as the device allows.
    uint64_t large = d.max_transfer < MiB ? d.max_transfer : MiB;
    if (large > d.bytes - large_offset - tail_reserve)
        large = (d.bytes - large_offset - tail_reserve) / s * s;
    if (large > io_capacity)
        large = io_capacity / s * s;
    line what;
    what.put("write of ").dec(large / s).put(" sectors (").dec(large).put(" bytes")
        .put(large == d.max_transfer ? ", max_transfer" : "").put(") in one call, read back");
    write_checked(d, large_offset / s, large / s, tag_large, what.c_str());

    // Length 0: SUCCESS with 0 and no change, whatever the first sector.
    for (uint64_t first : {uint64_t(0), d.sectors, ~uint64_t(0)}) {
        fill_content(io, tag_first + 0x41, 0, s);
        const raw_result r = block_write(d, first, io, 0);
        line why;
        outcome(why, r);
        bool ok = r.code() == hb::status::success && r.value == 0;
        line same;
        if (ok && !(unchanged(d, 0, 2, nullptr, same) && unchanged(d, d.sectors - 2, 2, nullptr, same)))
            ok = false, why.put("; ").put(same.c_str());
        line w;
        w.put("write of length 0 at sector ").hex(first).put(" is SUCCESS with 0 and changes nothing");
        check("HB-BLK-004", ok, describe(d, w.c_str()).c_str(), why.c_str());
    }
}

// ---------------------------------------------------------------------------
// HB-BLK-007 and HB-BLK-008: vectored transfers.
// ---------------------------------------------------------------------------

// Checks that the scatter area is all guard bytes but for [except, except + n).
bool scatter_clean()
{
    return first_not(scatter, guard_byte, scatter_size) == scatter_size;
}

void check_vectored_reads(const device& d)
{
    const uint64_t s = d.sector;
    const uint64_t first = 3;
    const uint64_t lengths[] = {s, 3 * s, 0, 2 * s, s};  // mixed, with an empty segment (any address)
    const uint64_t total = 7 * s;
    if (d.sectors < first + 7 + 1) {
        check("HB-BLK-007", false, describe(d, "vectored reads").c_str(), "the device has too few sectors");
        return;
    }
    // Segments scattered through the area in the reverse order of the device's,
    // each followed by a gap that must stay untouched.
    uint64_t at = scatter_size;
    uint64_t count = 0;
    for (uint64_t length : lengths) {
        if (length == 0) {
            list[count++] = {ram_outside, 0};
            continue;
        }
        at -= length + s + 24;  // a gap, and an address that is not sector-aligned
        list[count++] = {uint64_t(uintptr_t(scatter + at)), length};
    }
    fill_bytes(scatter, guard_byte, scatter_size);
    raw_result r = block_vectored(false, d, first, list, count * sizeof(blk_segment));
    // The same sectors read plainly.
    const bool plain_ok = read_to_copy(d, first, 7);
    line why;
    outcome(why, r);
    bool ok = r.code() == hb::status::success && r.value == total && plain_ok;
    uint64_t done = 0;
    for (uint64_t i = 0; ok && i < count; ++i) {
        const uint8_t* segment = reinterpret_cast<const uint8_t*>(uintptr_t(list[i].address));
        if (list[i].length && first_difference(segment, copy + done, list[i].length) != list[i].length)
            ok = false, why.put("; segment ").dec(i).put(" differs from a plain read of its sectors");
        if (list[i].length)
            fill_bytes(const_cast<uint8_t*>(segment), guard_byte, list[i].length);  // for the gap check
        done += list[i].length;
    }
    if (ok && !scatter_clean())
        ok = false, why.put("; bytes between the segments were written");
    if (ok && d.known())
        ok = matches_device(d, copy, first * s, total, why);
    check("HB-BLK-007", ok,
          describe(d, "read_vectored of 5 scattered segments (1, 3, 0, 2 and 1 sectors; the empty one outside RAM) "
                      "fills them in order from consecutive sectors").c_str(),
          why.c_str());

    // An empty list: SUCCESS with 0.
    r = block_vectored(false, d, first, list, 0);
    line w;
    outcome(w, r);
    check("HB-BLK-007", r.code() == hb::status::success && r.value == 0,
          describe(d, "read_vectored of an empty list is SUCCESS with 0").c_str(), w.c_str());
}

void check_vectored_write(device& d)
{
    const uint64_t s = d.sector;
    const uint64_t first = vectored_offset / s;
    const uint64_t lengths[] = {2 * s, 0, s, 3 * s};
    uint64_t at = scatter_size, count = 0, offset = first * s;
    fill_bytes(scatter, guard_byte, scatter_size);
    for (uint64_t length : lengths) {
        if (length == 0) {
            list[count++] = {ram_outside, 0};
            continue;
        }
        at -= length + s + 40;
        list[count++] = {uint64_t(uintptr_t(scatter + at)), length};
        fill_content(scatter + at, tag_vectored, offset, length);
        offset += length;
    }
    const uint64_t total = offset - first * s;
    raw_result r = block_vectored(true, d, first, list, count * sizeof(blk_segment));
    line why;
    outcome(why, r);
    bool ok = r.code() == hb::status::success && r.value == total;
    if (ok) {
        remember(d, first * s, total, tag_vectored, "HB-BLK-007");
        line back;
        if (!unchanged(d, first, total / s, nullptr, back))
            ok = false, why.put("; ").put(back.c_str());
    }
    check("HB-BLK-007", ok,
          describe(d, "write_vectored of 4 scattered segments (2, 0, 1 and 3 sectors) writes consecutive sectors "
                      "in list order, read back").c_str(),
          why.c_str());

    r = block_vectored(true, d, first, list, 0);
    line w;
    outcome(w, r);
    line same;
    check("HB-BLK-007", r.code() == hb::status::success && r.value == 0 && unchanged(d, first, total / s, nullptr, same),
          describe(d, "write_vectored of an empty list is SUCCESS with 0 and changes nothing").c_str(), w.c_str());
}

// A list of exactly max_segments entries is accepted; one more is refused.
void check_segment_limit(device& d, bool write)
{
    const uint64_t s = d.sector;
    const uint64_t entries = d.max_segments + 1;
    if (entries > list_capacity) {
        line why;
        why.put("the image needs ").dec(entries * sizeof(blk_segment)).put(" bytes of RAM for the list");
        check("HB-BLK-008", false, describe(d, "a list over max_segments").c_str(), why.c_str());
        return;
    }
    const uint64_t first = write ? vectored_offset / s : 3;
    // Two segments of one sector, then empty ones (an entry all the same).
    for (uint64_t i = 0; i < entries; ++i)
        list[i] = {0, 0};
    fill_bytes(scatter, guard_byte, scatter_size);
    list[0] = {uint64_t(uintptr_t(scatter)), s};
    list[1] = {uint64_t(uintptr_t(scatter + 2 * s)), s};
    if (write) {
        fill_content(scatter, tag_vectored, first * s, s);
        fill_content(scatter + 2 * s, tag_vectored, first * s + s, s);
    }
    raw_result r = block_vectored(write, d, first, list, d.max_segments * sizeof(blk_segment));
    line why;
    outcome(why, r);
    line w;
    w.put(write ? "write_vectored" : "read_vectored").put(" of exactly max_segments (").dec(d.max_segments)
        .put(") entries is SUCCESS");
    bool ok = r.code() == hb::status::success && r.value == 2 * s;
    if (ok && write) {
        remember(d, first * s, 2 * s, tag_vectored, "HB-BLK-007");
        line back;
        if (!unchanged(d, first, 2, nullptr, back))
            ok = false, why.put("; ").put(back.c_str());
    }
    if (ok && !write) {
        // The two sectors, in order, as a plain read gives them.
        if (!read_to_copy(d, first, 2) || first_difference(scatter, copy, s) != s ||
            first_difference(scatter + 2 * s, copy + s, s) != s)
            ok = false, why.put("; the segments differ from a plain read of their sectors");
    }
    check("HB-BLK-007", ok, describe(d, w.c_str()).c_str(), why.c_str());

    if (!write)
        fill_bytes(scatter, guard_byte, 4 * s);
    if (write) {
        fill_content(scatter, tag_first + 0x42, first * s, s);  // content no check expects
        fill_content(scatter + 2 * s, tag_first + 0x42, first * s + s, s);
    }
    r = block_vectored(write, d, first, list, entries * sizeof(blk_segment));
    line why2;
    outcome(why2, r);
    ok = r.code() == hb::status::invalid_param && r.value == 0;
    if (ok && !write && first_not(scatter, guard_byte, 4 * s) != 4 * s)
        ok = false, why2.put("; the segments were written");
    if (ok && write) {
        line back;
        if (!unchanged(d, first, 2, nullptr, back))
            ok = false, why2.put("; ").put(back.c_str());
    }
    line w2;
    w2.put(write ? "write_vectored" : "read_vectored").put(" of max_segments + 1 entries is INVALID_PARAM and moves "
                                                           "nothing");
    check("HB-BLK-008", ok, describe(d, w2.c_str()).c_str(), why2.c_str());
}

// Lists with one fault after good segments: nothing may move, neither into
// guest memory (read) nor onto the device (write).
void check_vectored_faults(const device& d, bool write)
{
    const uint64_t s = d.sector;
    const uint64_t first = write ? vectored_offset / s : 3;
    struct fault {
        const char* what;
        hb::status expected;
    };
    const fault faults[] = {
        {"a last segment not a multiple of the sector size", hb::status::invalid_param},
        {"a total one sector over max_transfer", hb::status::invalid_param},
        {"a transfer reaching one sector past the end of the device", hb::status::invalid_param},
        {"a list length not a multiple of 16", hb::status::invalid_param},
        {"a last segment outside RAM", hb::status::invalid_address},
        {"a last segment straddling the end of RAM", hb::status::invalid_address},
        {"a last segment at 16 TiB", hb::status::invalid_address},
        {"a last segment whose end wraps past 2^64", hb::status::invalid_address},
    };
    for (unsigned k = 0; k < sizeof faults / sizeof faults[0]; ++k) {
        const fault& f = faults[k];
        uint64_t start = first;
        uint64_t count = 0;
        fill_bytes(scatter, guard_byte, scatter_size);
        list[count++] = {uint64_t(uintptr_t(scatter + 8)), s};
        list[count++] = {uint64_t(uintptr_t(scatter + 2 * s + 16)), 2 * s};
        if (write) {
            fill_content(scatter + 8, tag_first + 0x43, 0, s);  // content no check expects
            fill_content(scatter + 2 * s + 16, tag_first + 0x43, s, 2 * s);
        }
        uint64_t list_bytes = 0;
        switch (k) {
        case 0: list[count++] = {uint64_t(uintptr_t(scatter + 5 * s + 32)), s / 2}; break;
        case 1: list[count++] = {uint64_t(uintptr_t(io)), d.max_transfer - 2 * s}; break;  // 1 + 2 sectors before
        case 2:
            start = d.sectors - 3 + 1;
            break;
        case 3: list_bytes = count * sizeof(blk_segment) + 8; list[count++] = {0, 0}; break;
        case 4: list[count++] = {ram_outside, s}; break;
        case 5: list[count++] = {ram_end ? ram_end - s / 2 : ram_outside, s}; break;
        case 6: list[count++] = {0x100000000000ull, s}; break;
        case 7: list[count++] = {~0ull - s / 2 + 1, s}; break;
        }
        const uint64_t large = d.max_transfer - 2 * s;  // case 1's last segment
        if (k == 1 && !write && large <= io_capacity)
            clear_watched(io, large, s);
        if (!list_bytes)
            list_bytes = count * sizeof(blk_segment);
        if (k == 1 && large > io_capacity) {
            // The segment need not lie in RAM (INVALID_PARAM comes first), but
            // the image can only watch what it has room for.
            list[2].address = ram_outside;
        }
        const uint64_t watch_first = k == 2 ? start : first;
        const raw_result r = block_vectored(write, d, start, list, list_bytes);
        line why;
        outcome(why, r);
        bool ok = r.code() == f.expected && r.value == 0;
        if (ok && !write) {
            // Guest memory unchanged: the good segments still hold guard bytes.
            if (first_not(scatter, guard_byte, scatter_size) != scatter_size)
                ok = false, why.put("; a segment was written");
            if (k == 1 && large <= io_capacity && !watched_clear(io, large, s))
                ok = false, why.put("; the large segment was written");
        }
        if (ok && write) {
            line back;
            const uint64_t look = watch_first + 4 <= d.sectors ? 4 : d.sectors - watch_first;
            if (!unchanged(d, watch_first, look, nullptr, back))
                ok = false, why.put("; ").put(back.c_str());
        }
        line w;
        w.put(write ? "write_vectored" : "read_vectored").put(" with ").put(f.what).put(" is ")
            .put(hb::abi::status_name(f.expected)).put(" and moves nothing");
        check("HB-BLK-008", ok, describe(d, w.c_str()).c_str(), why.c_str());
    }
}

// ---------------------------------------------------------------------------
// HB-BLK-010: read-only devices refuse every write and keep their contents.
// ---------------------------------------------------------------------------

void check_read_only(const device& d)
{
    const uint64_t s = d.sector;
    const uint64_t look = d.sectors < 8 ? d.sectors : 8;
    // Before: what the device holds at both ends (for a device the image does
    // not recognise; a driver's disk is compared with its known contents).
    static uint8_t head[8 * 4096], end[8 * 4096];
    const bool read_ok = read_to_copy(d, 0, look);
    copy_bytes(head, copy, look * s);
    const bool read_end_ok = read_to_copy(d, d.sectors - look, look);
    copy_bytes(end, copy, look * s);
    // Every write is DENIED, whatever its length (0 too), but only after the
    // argument and buffer checks (2.1 steps 4-5 come before the device's
    // rights at step 7; the bad lengths are check_bounds').
    struct attempt {
        const char* what;
        uint64_t first, length;
        bool vectored;
        hb::status expected;
        bool outside_ram;  // the buffer (or the only segment) lies outside RAM
    };
    uint64_t large = d.max_transfer < d.bytes ? d.max_transfer : d.bytes;
    if (large > io_capacity)
        large = io_capacity / s * s;
    const attempt attempts[] = {
        {"write of the first sector", 0, s, false, hb::status::denied, false},
        {"write of the last sector", d.sectors - 1, s, false, hb::status::denied, false},
        {"write of as many sectors as one call moves", 0, large, false, hb::status::denied, false},
        {"write_vectored of 2 segments", 0, 2 * s, true, hb::status::denied, false},
        {"write_vectored of 2 segments ending at the last sector", d.sectors - 2, 2 * s, true, hb::status::denied,
         false},
        {"write of 0 bytes", 0, 0, false, hb::status::denied, false},
        {"write of 0 bytes past the end of the device", d.sectors + 1, 0, false, hb::status::denied, false},
        {"write_vectored of an empty list", 0, 0, true, hb::status::denied, false},
        {"write of one sector from a buffer outside RAM (INVALID_ADDRESS comes before DENIED)", 0, s, false,
         hb::status::invalid_address, true},
        {"write_vectored of a segment outside RAM (INVALID_ADDRESS comes before DENIED)", 0, s, true,
         hb::status::invalid_address, true},
    };
    for (const attempt& a : attempts) {
        fill_content(io, tag_first + 0x44, 0, a.length < watch_window ? a.length : watch_window);
        const uint64_t buffer = a.outside_ram ? ram_outside : uint64_t(uintptr_t(io));
        raw_result r;
        if (a.vectored && a.length == 0) {
            r = block_vectored(true, d, a.first, list, 0);
        } else if (a.vectored && a.outside_ram) {
            list[0] = {buffer, a.length};
            r = block_vectored(true, d, a.first, list, sizeof(blk_segment));
        } else if (a.vectored) {
            list[0] = {buffer, s};
            list[1] = {buffer + s, a.length - s};
            r = block_vectored(true, d, a.first, list, 2 * sizeof(blk_segment));
        } else {
            r = raw_call(uint64_t(fn::block_write), d.index, a.first, buffer, a.length);
        }
        line why;
        outcome(why, r).put(", expected ").put(hb::abi::status_name(a.expected));
        bool ok = r.code() == a.expected && r.value == 0 && read_ok && read_end_ok;
        line same;
        if (ok && !(unchanged(d, 0, look, head, same) && unchanged(d, d.sectors - look, look, end, same)))
            ok = false, why.put("; ").put(same.c_str());
        line w;
        w.put(a.what).put(a.expected == hb::status::denied ? " is DENIED and changes nothing"
                                                           : " is INVALID_ADDRESS and changes nothing");
        check("HB-BLK-010", ok, describe(d, w.c_str()).c_str(),
              why.c_str());
    }
    // The whole device on a driver's disk, as the file held it (watched as
    // above: the driver compares every byte of the file after the run).
    if (d.known()) {
        bool ok = true;
        line why;
        const uint64_t step = io_capacity < d.max_transfer ? io_capacity / s * s : d.max_transfer;
        for (uint64_t at = 0; ok && at < d.bytes; at += step) {
            const uint64_t n = d.bytes - at < step ? d.bytes - at : step;
            clear_watched(io, n, s);
            const raw_result r = block_read(d, at / s, io, n);
            if (r.code() != hb::status::success)
                ok = false, outcome(why, r);
            else
                ok = watched_match_device(d, io, at, n, why);
        }
        check("HB-BLK-010", ok, describe(d, "the device reads as the driver wrote it").c_str(), why.c_str());
        // And from outside: the file itself.
        emit(line().put("EXPECT-DISK HB-BLK-010 disk").dec(unsigned(d.disk)).put(" unchanged"));
    }
}

// ---------------------------------------------------------------------------
// HB-BLK-006: the reboot region, and what the driver checks in the files.
// ---------------------------------------------------------------------------

bool write_reboot_region(device& d)
{
    const uint64_t s = d.sector;
    fill_content(io, tag_reboot, reboot_offset, reboot_length);
    const raw_result r = block_write(d, reboot_offset / s, io, reboot_length);
    if (r.code() != hb::status::success || r.value != reboot_length) {
        line why;
        outcome(why, r);
        check("HB-BLK-006", false, describe(d, "write of the region read back after the reboot").c_str(), why.c_str());
        return false;
    }
    // "whether or not a flush came between": disk1 and disk3 are flushed, the others not.
    if (d.disk & 1)
        (void)raw_call(uint64_t(fn::block_flush), d.index);
    return true;
}

// Whether no writable disk holds the reboot region's content yet: then this is
// the first boot (a host that says "power-on" after a reboot cannot make the
// image reboot forever).
bool first_boot_on_disks()
{
    for (unsigned i = 0; i < device_count; ++i) {
        const device& d = devices[i];
        if (!d.writable_disk() || d.bytes < smallest_writable)
            continue;
        if (!read_to_copy(d, reboot_offset / d.sector, reboot_length / d.sector))
            continue;
        fill_content(io, tag_reboot, reboot_offset, reboot_length);
        if (first_difference(copy, io, reboot_length) == reboot_length)
            return false;
    }
    return true;
}

void expect_disk(const device& d, const region& g)
{
    // The first and the last 32 bytes of the region, as the model says they end up.
    for (uint64_t offset : {g.offset, g.offset + g.length - (g.length < 32 ? g.length : 32)}) {
        const uint64_t n = g.length < 32 ? g.length : 32;
        uint8_t bytes[32];
        expected_content(d, bytes, offset, n);
        line l;
        l.put("EXPECT-DISK ").put(g.requirement).put(" disk").dec(unsigned(d.disk)).put(' ').hex(offset).put(' ');
        for (uint64_t i = 0; i < n; ++i)
            l.put("0123456789abcdef"[bytes[i] >> 4]).put("0123456789abcdef"[bytes[i] & 15]);
        emit(l);
    }
}

// ---------------------------------------------------------------------------
// HB-BLK-009 from outside: a flushed write must survive a crash of the host
// process. The last thing the image does is write and flush a region, send the
// driver its expected bytes and "KILL-NOW HB-BLK-009", and wait; the driver kills
// the host with SIGKILL at once and then reads the disk's file. (A crash of the
// host machine, the other half of HB-BLK-009, cannot be caused from outside.)
// ---------------------------------------------------------------------------

constexpr uint64_t crash_offset = 2 * MiB, crash_length = 64 * KiB;  // clear of every other region
constexpr uint64_t tag_crash = 0x108;
constexpr uint64_t kill_patience_ns = 10'000'000'000ull;  // how long to wait for the driver

device* crash_device()
{
    for (unsigned i = 0; i < device_count; ++i)
        if (devices[i].writable_disk() && devices[i].bytes >= crash_offset + crash_length + tail_reserve)
            return &devices[i];
    return nullptr;
}

// Before the SUMMARY: the write and the flush, each a check.
void write_and_flush_for_the_crash()
{
    device* d = crash_device();
    if (!d) {
        not_tested("HB-BLK-009", "a flushed write survives a crash of the host process",
                   "no writable disk of the driver's of 3 MiB or more: give the host {disk0}");
        return;
    }
    fill_content(io, tag_crash, crash_offset, crash_length);
    const raw_result w = block_write(*d, crash_offset / d->sector, io, crash_length);
    const raw_result f = raw_call(uint64_t(fn::block_flush), d->index);
    line why;
    outcome(why.put("write: "), w).put("; flush: ");
    outcome(why, f);
    const bool ok = w.code() == hb::status::success && f.code() == hb::status::success;
    check("HB-BLK-009", ok, describe(*d, "a write and then a flush return SUCCESS (the driver then kills the host)")
                                .c_str(), why.c_str());
    if (ok)
        remember(*d, crash_offset, crash_length, tag_crash, "HB-BLK-009");
}

// After the SUMMARY: what the file must hold once the host is killed, the kill
// request, and the wait for it. A driver that does not act on it (an older one)
// gets the normal end after kill_patience_ns.
[[noreturn]] void await_the_kill()
{
    device* d = crash_device();
    if (d && d->region_count && d->regions[d->region_count - 1].tag == tag_crash) {
        expect_disk(*d, d->regions[d->region_count - 1]);
        emit(line().put("KILL-NOW HB-BLK-009"));
        const auto start = hb::time::monotonic_ns();
        const bool can_sleep = advertises(hb::abi::service::evt);
        for (uint64_t spins = 0; start.ok() || spins < 1'000'000'000; ++spins) {
            if (!start.ok())
                continue;  // no clock: a bounded spin
            const auto now = hb::time::monotonic_ns();
            if (!now.ok() || now.value - start.value >= kill_patience_ns)
                break;
            if (can_sleep)
                (void)hb::evt::wait(start.value + kill_patience_ns, 0);  // sleeps; the kill comes meanwhile
        }
        note("the driver did not kill the host after KILL-NOW: it cannot check HB-BLK-009 from outside");
    }
    power_off();
}

// ---------------------------------------------------------------------------
// HB-BLK-011: every device's name, over all the devices (not only those tested).
// ---------------------------------------------------------------------------

// The name field holds 1 to 32 bytes of UTF-8 without NUL or control bytes,
// then only NULs; its length, or 0 when it does not.
size_t name_length(const uint8_t (&field)[32])
{
    size_t length = 0;
    while (length < 32 && field[length])
        ++length;
    for (size_t i = length; i < 32; ++i)
        if (field[i])
            return 0;  // something after the NUL padding began
    return hb::text::is_printable_utf8(reinterpret_cast<const char*>(field), length) ? length : 0;
}

void check_names(uint64_t count)
{
    constexpr uint64_t most = 1024;  // names compared; a host with more devices has the rest unchecked (a NOTE)
    static uint8_t names[most][32];
    const uint64_t n = count < most ? count : most;
    bool well_formed = true, distinct = true;
    line why_form, why_same;
    for (uint64_t i = 0; i < n; ++i) {
        blk_info record{};
        const raw_result r = block_info(uint16_t(i), &record, sizeof record);
        if (r.code() != hb::status::success) {
            well_formed = false;
            outcome(why_form.put("info of device ").dec(i).put(": "), r);
            break;
        }
        copy_bytes(names[i], record.name, 32);
        if (well_formed && name_length(record.name) == 0) {
            well_formed = false;
            why_form.put("device ").dec(i).put("'s name field:");
            for (uint8_t b : record.name)
                why_form.put(' ').hex(b, 2);
        }
        for (uint64_t j = 0; distinct && j < i; ++j)
            if (first_difference(names[i], names[j], 32) == 32) {
                distinct = false;
                why_same.put("devices ").dec(j).put(" and ").dec(i).put(" are both named ");
                for (uint8_t b : names[i])
                    if (b)
                        why_same.put(char(b));
            }
    }
    line what;
    what.put("every device's name (").dec(n).put(" devices) is 1 to 32 bytes of UTF-8 without control characters, then NULs");
    check("HB-BLK-011", well_formed, what.c_str(), why_form.c_str());
    check("HB-BLK-011", distinct, "no two devices of the machine have the same name", why_same.c_str());
    if (count > most)
        note("only the names of the first 1024 devices were compared");
}

constexpr const char* every_requirement[] = {"HB-BLK-002", "HB-BLK-003", "HB-BLK-004", "HB-BLK-005", "HB-BLK-006",
                                             "HB-BLK-007", "HB-BLK-008", "HB-BLK-009", "HB-BLK-010", "HB-BLK-011"};
constexpr const char* give_disks =
    "give the host the driver's disks, e.g. --disk {disk0} --disk {disk1},sector=4096 --disk {disk2},ro";

}  // namespace

void run_checks()
{
    const hb::host_info& host = hb::detect();
    const uint32_t services = hb::arch::cpuid(host.base_leaf + hb::abi::cpuid_leaf_services).eax;
    if (!(services & (1u << uint16_t(hb::abi::service::block)))) {
        skip("HB-BLK-001", "BLOCK", "not advertised: the host's discovery does not list BLOCK");
        for (const char* req : every_requirement)
            skip(req, "BLOCK", "not advertised: the host's discovery does not list BLOCK");
        return;
    }

    // HB-BLK-001: the same count on every call.
    const auto count = hb::block::count();
    {
        line why;
        why.put("status ").put(hb::abi::status_name(count.code));
        check("HB-BLK-001", count.ok(), "count returns SUCCESS", why.c_str());
    }
    const uint64_t n = count.ok() ? count.value : 0;
    {
        line l;
        l.put("BLOCK has ").dec(n).put(" devices");
        note(l.c_str());
    }
    if (n == 0) {
        // count may be 0 (12.2), so this is no failure of the host; but nothing
        // was tested, and the driver says so.
        line why;
        why.put("the host offers BLOCK with no devices; ").put(give_disks);
        for (const char* req : every_requirement)
            not_tested(req, "BLOCK's checks need devices", why.c_str());
        return;
    }

    // Memory for the buffers.
    arena ram = find_free_ram();
    ram_outside = ram_end ? ram_end + 16 * MiB : 0x100000000000ull;
    device_count = n < max_devices ? unsigned(n) : max_devices;
    uint64_t biggest = MiB + 4096;
    check_names(n);
    for (unsigned i = 0; i < device_count; ++i) {
        learn_device(devices[i], uint16_t(i));
        const uint64_t need = devices[i].max_transfer + 4096;
        biggest = need > biggest ? need : biggest;
    }
    scatter = ram.take(scatter_size);
    uint64_t list_need = 4096;
    for (unsigned i = 0; i < device_count; ++i) {
        const uint64_t entries = devices[i].max_segments + 1;
        list_need = entries * sizeof(blk_segment) > list_need ? entries * sizeof(blk_segment) : list_need;
    }
    list = reinterpret_cast<blk_segment*>(ram.take(list_need));
    if (!list)
        list = reinterpret_cast<blk_segment*>(ram.take(4096)), list_need = 4096;
    list_capacity = list ? list_need / sizeof(blk_segment) : 0;
    // Two buffers for transfers: as large as max_transfer and a sector, or half
    // of what is left.
    uint64_t each = ((ram.left / 2) & ~4095ull);
    each = each > biggest + 8192 ? biggest + 8192 : each;
    uint8_t* a = ram.take(each);
    uint8_t* b = ram.take(each);
    copy = b ? b + 4096 : nullptr;  // with room for guards on both sides, as io
    io = a ? a + 4096 : nullptr;
    io_capacity = a && copy && each > 8192 ? each - 8192 : 0;
    if (!io || !copy || !scatter || !list || io_capacity < biggest) {
        // The buffers must hold a transfer one sector over max_transfer: a
        // shortage of the run, not a failure of the host (Appendix B).
        line why;
        why.put("the block image needs about ").dec((2 * (biggest + 8192) + scatter_size + list_need) / MiB + 1)
            .put(" MiB of free RAM above itself for its buffers (max_transfer ").dec(biggest - 4096).put(
                " bytes), and the host gave it less: give the host more RAM (e.g. hbvm --mem 128M)");
        usage_error(why.c_str());
    }
    for (unsigned i = 0; i < device_count; ++i) {
        recognise(devices[i]);
        // Which of the driver's disks device i is, by content: the driver checks
        // a profile's window with it (a window that starts elsewhere than the
        // profile says shows other bytes, and the disk is not recognised).
        info(line().put("block-device-").dec(i).c_str(), devices[i].known() ? uint64_t(devices[i].disk) : ~uint64_t(0));
    }
    if (n > max_devices)
        note("only the first 8 devices are tested");
    for (unsigned i = 0; i < device_count; ++i) {
        const device& d = devices[i];
        line l;
        l.put("device ").dec(d.index).put(": ");
        if (d.known())
            l.put("disk").dec(unsigned(d.disk)).put(" of the driver, ");
        else
            l.put("not one of the driver's disks (read, never written), ");
        l.dec(d.sectors).put(" sectors of ").dec(d.sector).put(" bytes, max_transfer ").dec(d.max_transfer)
            .put(", max_segments ").dec(d.max_segments).put(", flags ").hex(d.info.flags);
        note(l.c_str());
    }

    // HB-BLK-006 across a reset: the first boot writes and reboots.
    bool writable = false;
    for (unsigned i = 0; i < device_count; ++i)
        writable = writable || (devices[i].writable_disk() && devices[i].bytes >= smallest_writable);
    const bool power = services & (1u << uint16_t(hb::abi::service::power));
    const auto reason = hb::power::reset_reason();
    enum { across_reset, reboot_denied, no_power, reboot_failed, no_disk } reset_case = no_disk;
    if (writable && !power) {
        reset_case = no_power;
        for (unsigned i = 0; i < device_count; ++i)
            if (devices[i].writable_disk() && devices[i].bytes >= smallest_writable)
                write_reboot_region(devices[i]);
    } else if (writable && reason.ok() && reason.value == hb::abi::reset_guest_reboot) {
        reset_case = across_reset;
    } else if (writable && reason.ok() && reason.value == hb::abi::reset_power_on && first_boot_on_disks()) {
        for (unsigned i = 0; i < device_count; ++i)
            if (devices[i].writable_disk() && devices[i].bytes >= smallest_writable)
                write_reboot_region(devices[i]);
        note("wrote the reboot region of every writable disk (flushed on disk1 and disk3 only); calling POWER.reboot: "
             "the checks go on in the second boot");
        const raw_result r = raw_call(fn::power_reboot);
        reset_case = r.code() == hb::status::denied ? reboot_denied : reboot_failed;
        if (r.code() != hb::status::denied) {
            line why;
            outcome(why, r);
            check("HB-BLK-006", false, "POWER.reboot restarts the machine", why.c_str());
        }
    } else if (writable && reason.ok() && reason.value == hb::abi::reset_power_on) {
        // The disks already hold the first boot's write: this is the second
        // boot, though reset_reason says power-on (the power image judges that).
        note("reset_reason says power-on, but the disks hold the first boot's write: going on as the second boot");
        reset_case = across_reset;
    } else if (writable) {
        line why;
        why.put("POWER.reset_reason: ");
        outcome(why, raw_result{int64_t(reason.code), reason.value});
        check("HB-BLK-006", false, "the image can tell the first boot from the second", why.c_str());
        reset_case = reboot_failed;
        for (unsigned i = 0; i < device_count; ++i)
            if (devices[i].writable_disk() && devices[i].bytes >= smallest_writable)
                write_reboot_region(devices[i]);
    }

    // Count again after the writes: the same.
    {
        const auto again = hb::block::count();
        check_value("HB-BLK-001", again.ok() ? again.value : ~0ull, n, "count returns the same number on every call");
    }

    // The reboot region comes back (in the second boot) or, where the machine
    // could not be reset, in the same boot.
    if (reset_case == no_disk) {
        line why;
        why.put("no writable disk of the driver's; ").put(give_disks);
        not_tested("HB-BLK-006", "a write is seen by later reads, after a reset of the machine", why.c_str());
    } else {
        for (unsigned i = 0; i < device_count; ++i) {
            device& d = devices[i];
            if (!d.writable_disk() || d.bytes < smallest_writable)
                continue;
            remember(d, reboot_offset, reboot_length, tag_reboot, "HB-BLK-006");
            line why;
            const bool back = read_to_copy(d, reboot_offset / d.sector, reboot_length / d.sector) &&
                              matches_device(d, copy, reboot_offset, reboot_length, why);
            check("HB-BLK-006", back,
                  describe(d, reset_case == across_reset
                                  ? (d.disk & 1 ? "a write from the first boot, flushed, is read back after POWER.reboot"
                                                : "a write from the first boot, not flushed, is read back after "
                                                  "POWER.reboot")
                                  : "a write is read back in the same boot").c_str(),
                  why.c_str());
        }
        if (reset_case == across_reset)
            expect_boots("HB-BLK-006", 2);
        else if (reset_case == reboot_denied)
            skip("HB-BLK-006", "a write is seen by later reads after a reset of the machine",
                 "denied by the host's policy: POWER.reboot answered DENIED, which spec 8.3 allows");
        else if (reset_case == no_power)
            skip("HB-BLK-006", "a write is seen by later reads after a reset of the machine",
                 "not advertised: without POWER the guest cannot reset the machine");
    }

    bool any_read_only = false, any_writable = false, any_4096 = false;
    for (unsigned i = 0; i < device_count; ++i) {
        device& d = devices[i];
        check_info(d);
        if (!d.info_ok || d.bytes == 0) {
            note(describe(d, "no transfers tested: its info failed, or it has no sectors").c_str());
            continue;
        }
        any_4096 = any_4096 || d.sector == 4096;
        check_reads(d);
        check_bounds(d, false);
        check_vectored_reads(d);
        check_segment_limit(d, false);
        check_vectored_faults(d, false);
        if (d.disk == 2 && !d.read_only)
            check("HB-BLK-010", false, "the driver's disk2, meant read-only, is reported read-only",
                  "the host does not flag disk2 read_only: was it given read-only (e.g. --disk {disk2},ro)?");
        if (d.read_only) {
            any_read_only = true;
            check_bounds(d, true);  // INVALID_PARAM comes before DENIED (12.5)
            check_read_only(d);
        } else if (d.writable_disk() && d.bytes >= smallest_writable) {
            any_writable = true;
            check_bounds(d, true);
            check_writes(d);
            check_vectored_write(d);
            check_segment_limit(d, true);
            check_vectored_faults(d, true);
        }
        // HB-BLK-009: flush is accepted on every device, read-only ones included.
        for (int time = 0; time < 2; ++time) {
            const raw_result r = raw_call(uint64_t(fn::block_flush), d.index);
            line why;
            outcome(why, r);
            check("HB-BLK-009", r.code() == hb::status::success && r.value == 0,
                  describe(d, time ? "flush again returns SUCCESS" : "flush returns SUCCESS").c_str(), why.c_str());
        }
    }
    if (!any_writable) {
        line why;
        why.put("no writable disk of the driver's; ").put(give_disks);
        not_tested("HB-BLK-004", "writes", why.c_str());
        not_tested("HB-BLK-007", "write_vectored", why.c_str());
        not_tested("HB-BLK-009", "a flushed write survives a crash of the host process", why.c_str());
    } else {
        // Writes seen by later reads without a flush between them: the round
        // trips above read back before their device was flushed.
        check("HB-BLK-006", writes_seen,
              "every write of this boot returned SUCCESS and was read back, before the device was flushed",
              "see the HB-BLK-004 failures");
    }
    if (!any_read_only)
        not_tested("HB-BLK-010", "read-only devices refuse writes",
                   "no device has the read_only flag; give the host a read-only disk, e.g. --disk {disk2},ro");
    if (!any_4096)
        note("no device with 4096-byte sectors: give the host one (e.g. --disk {disk1},sector=4096) to test both sizes");

    // What the driver compares in the files after the run.
    for (unsigned i = 0; i < device_count; ++i)
        for (unsigned r = 0; r < devices[i].region_count; ++r)
            expect_disk(devices[i], devices[i].regions[r]);

    const auto last = hb::block::count();
    check_value("HB-BLK-001", last.ok() ? last.value : ~0ull, n, "count still returns the same number at the end");

    if (any_writable)
        write_and_flush_for_the_crash();
    summary();
    await_the_kill();
}

}  // namespace conformance
