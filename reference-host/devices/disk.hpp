// A disk for the BLOCK service: a raw image file of fixed-size sectors, opened,
// checked and locked before the machine boots, read and written with
// pread/pwrite and made durable with fdatasync. No host path reaches the guest:
// it sees the disk's name (disk0, or name=) and an ID derived from the file's
// identity, not its path.
#ifndef HBVM_DEVICES_DISK_HPP
#define HBVM_DEVICES_DISK_HPP

#include "devices/device.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hbvm {

// One disk's settings: --disk PATH[,ro][,name=NAME][,sector=512|4096], or a
// [[disk]] table with path, ro, name and sector.
struct disk_spec {
    std::string path;
    bool read_only = false;
    std::string name;  // empty: diskN
    uint32_t sector_size = 512;
    // A window of the file's sectors, the only part the guest sees (a profile's
    // storage region, or first-sector=/sectors= given by hand): the guest's
    // sector 0 is the file's `first_sector`; nullopt sectors: to the file's end.
    uint64_t first_sector = 0;
    std::optional<uint64_t> sectors = std::nullopt;
};

// The device class "disk" (devices/registry.cpp).
device_class disk_device_class();

// The settings of one disk as a disk_spec; throws hbvm::error (usage) naming
// what is wrong with them.
disk_spec disk_spec_of(const device_settings& settings);

// Parses the text after --disk (the command line's form of the settings).
disk_spec parse_disk_spec(const std::string& text);

// The most disks a machine takes (--disk given this often at most). The spec
// allows device numbers up to 0xFFFE; a guest learns the host's number from
// BLOCK.count. 256 leaves room for a unikernel's test that attaches 63 and for
// the descriptors a process may hold (one each).
inline constexpr size_t max_disks = 256;

// The bytes of the blk_info name field (spec 12.3.1): a name fills it, or is
// followed by NUL bytes.
inline constexpr size_t max_disk_name = 32;

class disk final : public device {
public:
    // Opens and locks the file (writable: exclusively, so that a second hbvm
    // cannot use it; read-only: shared). Throws hbvm::error (bad_disk) with a
    // message naming the file: missing, unreadable, a directory, empty, not a
    // multiple of the sector size, or in use.
    disk(const disk_spec& spec, std::string name);
    ~disk() override;
    disk(const disk&) = delete;
    disk& operator=(const disk&) = delete;

    const std::string& name() const { return name_; }
    uint32_t sector_size() const { return sector_size_; }
    uint64_t sector_count() const { return sector_count_; }
    bool read_only() const { return read_only_; }
    const std::array<uint8_t, 20>& id() const { return id_; }

    // The window's first byte in the file (0 without a window).
    uint64_t window_offset() const { return window_offset_; }

    // Whole transfers at a byte offset of the guest's view (the window); false
    // on a host I/O error (errno kept).
    // A failed write leaves each sector with its old or its new content, never
    // a mix (spec 12.5): a file-size limit (ulimit -f) that falls inside a
    // sector stops the write at the sector before it.
    bool read(uint64_t offset, std::span<std::byte> out) const;
    bool write(uint64_t offset, std::span<const std::byte> in);
    // Every completed write reaches stable storage (fdatasync). After a failed
    // write or sync, every later flush fails too: Linux reports a writeback error
    // to a descriptor once, and a retried fdatasync would then succeed although
    // the data is lost (HB-BLK-009).
    bool flush();

    // Deliberate deviations, set only by hbvm --inject-fault (core/fault_injection).
    struct deviations {
        bool flush_does_nothing = false;         // flush answers SUCCESS without syncing
        bool writes_lose_first_sector = false;   // each write skips its first sector
        bool writes_kept_in_memory = false;      // writes stay in hbvm's memory until the disk is closed;
                                                 // flush answers SUCCESS without writing them
    };
    deviations deviate;
    void take_faults(const fault_injector& faults) override;

private:
    int fd_ = -1;
    std::string name_;
    uint32_t sector_size_;
    uint64_t sector_count_ = 0;
    bool read_only_;
    bool write_at(uint64_t file_offset, std::span<const std::byte> in);
    uint64_t window_offset_ = 0;
    unsigned audit_index_ = 0;  // the disk's number in the access audit (policy/audit.hpp)
    bool lost_writes_ = false;  // a write or sync failed: durability can no longer be promised
    std::map<uint64_t, std::vector<std::byte>> kept_;  // writes_kept_in_memory: sector -> its bytes
    std::array<uint8_t, 20> id_{};
};

}  // namespace hbvm

#endif
