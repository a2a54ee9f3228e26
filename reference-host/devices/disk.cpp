#include "devices/disk.hpp"

#include "core/error.hpp"
#include "core/fault_injection.hpp"
#include "core/stop.hpp"
#include "policy/audit.hpp"

#include <hyperbios/text.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hbvm {

namespace {

[[noreturn]] void bad(const std::string& path, const std::string& what)
{
    throw error(exit_status::bad_disk, "--disk " + path + ": " + what);
}

// What a guest prints as the device's name (spec 12.3.1).
bool valid_name(const std::string& name) { return hyperbios::text::is_printable_utf8(name.data(), name.size()); }

}  // namespace

disk_spec disk_spec_of(const device_settings& settings)
{
    disk_spec spec;
    const auto value = [&](const char* key) { return settings.get(key); };
    const auto fail = [&](const std::string& what) { throw error(exit_status::usage, settings.origin + ": " + what); };
    spec.path = value("path").value_or("");
    if (spec.path.empty())
        fail("which file? e.g. --disk disk.img,ro");
    if (const auto ro = value("ro")) {
        if (*ro != "true" && *ro != "false")
            fail("ro is true or false, not '" + *ro + "'");
        spec.read_only = *ro == "true";
    }
    if (const auto name = value("name")) {
        spec.name = *name;
        if (spec.name.empty() || spec.name.size() > max_disk_name)
            fail("name= takes 1 to " + std::to_string(max_disk_name) + " bytes (" + std::to_string(spec.name.size()) +
                 " given)");
        if (!valid_name(spec.name))
            fail("name= must be UTF-8 text without control characters");
    }
    if (const auto sector = value("sector")) {
        if (*sector != "512" && *sector != "4096")
            fail("sector= is 512 or 4096, not '" + *sector + "'");
        spec.sector_size = *sector == "512" ? 512 : 4096;
    }
    const auto count = [&](const char* key) {
        const std::string text = *value(key);
        char* end = nullptr;
        errno = 0;
        const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
        if (text.empty() || text[0] < '0' || text[0] > '9' || *end != 0 || errno == ERANGE || v >= (1ull << 52))
            fail(std::string(key) + "= takes a number of sectors, not '" + text + "'");
        return uint64_t(v);
    };
    if (value("first-sector"))
        spec.first_sector = count("first-sector");
    if (value("sectors")) {
        spec.sectors = count("sectors");
        if (*spec.sectors == 0)
            fail("sectors= is at least 1");
    }
    return spec;
}

disk_spec parse_disk_spec(const std::string& text)
{
    return disk_spec_of(parse_device_option(disk_device_class(), text));
}

namespace {

// Every disk without name= gets its default name (disk0, disk1, ... by
// position), and no two disks of the machine share a name (spec HB-BLK-011).
void check_disks(std::vector<device_settings>& all)
{
    std::vector<disk_spec> specs;
    for (size_t i = 0; i < all.size(); ++i) {
        specs.push_back(disk_spec_of(all[i]));
        if (specs[i].name.empty()) {
            specs[i].name = "disk" + std::to_string(i);
            all[i].values.emplace_back("name", specs[i].name);
        }
        for (size_t j = 0; j < i; ++j)
            if (specs[i].name == specs[j].name)
                throw error(exit_status::usage, all[i].origin + ": the name '" + specs[i].name + "' is disk " +
                                                    std::to_string(j) + "'s (" + specs[j].path +
                                                    ") already; a machine's disks need distinct names: give one "
                                                    "another name=");
    }
}

std::vector<std::unique_ptr<device>> create_disks(const std::vector<device_settings>& all, const device_host&)
{
    std::vector<std::unique_ptr<device>> disks;
    for (const device_settings& s : all) {
        const disk_spec spec = disk_spec_of(s);
        disks.push_back(std::make_unique<disk>(spec, spec.name));
    }
    return disks;
}

}  // namespace

device_class disk_device_class()
{
    return {"disk",
            "  --disk PATH[,ro][,name=NAME][,sector=512|4096][,first-sector=N][,sectors=N]\n"
            "                  a raw disk image for the BLOCK service, repeatable up to 256\n"
            "                  times: devices 0, 1... in order, named disk0, disk1... or\n"
            "                  NAME (1 to 32 bytes of UTF-8, distinct within the machine);\n"
            "                  ro refuses writes; the file's size must be a multiple of the\n"
            "                  sector size (default 512); a writable one is locked against\n"
            "                  a second hbvm. first-sector= and sectors= show the guest only\n"
            "                  a window of the file (its sector 0 is the file's sector N;\n"
            "                  sectors= defaults to the rest), as a profile's [[disk]]\n"
            "                  does. PATH cannot contain a comma\n",
            "path",
            {"path", "ro", "name", "sector", "first-sector", "sectors"},
            {"ro"},
            max_disks,
            false,
            check_disks,
            create_disks};
}

void disk::take_faults(const fault_injector& faults) { deviate = faults.disk_deviations(); }

disk::disk(const disk_spec& spec, std::string name)
    : name_(std::move(name)), sector_size_(spec.sector_size), read_only_(spec.read_only)
{
    fd_ = ::open(spec.path.c_str(), (read_only_ ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);  // a FIFO must not wait for a writer: refused below
    if (fd_ < 0)
        bad(spec.path, std::string(std::strerror(errno)) +
                           ((errno == EACCES || errno == EROFS) && !read_only_ ? " (add ,ro to use it read-only)" : ""));
    struct stat st {};
    if (fstat(fd_, &st) != 0)
        bad(spec.path, std::strerror(errno));
    if (S_ISDIR(st.st_mode))
        bad(spec.path, "is a directory, not a disk image");
    if (!S_ISREG(st.st_mode))
        bad(spec.path, "is not a regular file (raw disk image files only)");
    if (st.st_size == 0)
        bad(spec.path, "is empty; make it with e.g. truncate -s 64M " + spec.path);
    if (uint64_t(st.st_size) % sector_size_ != 0)
        bad(spec.path, "is " + std::to_string(st.st_size) + " bytes, not a multiple of the sector size " +
                           std::to_string(sector_size_) + "; it is never truncated — resize it yourself");
    // A writable disk is the machine's alone; read-only ones may be shared.
    if (flock(fd_, (read_only_ ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0)
        bad(spec.path, errno == EWOULDBLOCK ? "is in use: locked by another hbvm (or given twice); stop the other, or add ,ro to every use"
                                            : std::string("cannot be locked: ") + std::strerror(errno));
    sector_count_ = uint64_t(st.st_size) / sector_size_;
    if (spec.first_sector >= sector_count_)
        bad(spec.path, "has " + std::to_string(sector_count_) + " sectors of " + std::to_string(sector_size_) +
                           " bytes; a window from sector " + std::to_string(spec.first_sector) +
                           " leaves nothing to see (the window comes from first-sector= or the profile's [[disk]])");
    if (spec.sectors && *spec.sectors > sector_count_ - spec.first_sector)
        bad(spec.path, "has " + std::to_string(sector_count_) + " sectors of " + std::to_string(sector_size_) +
                           " bytes; a window of " + std::to_string(*spec.sectors) + " from sector " +
                           std::to_string(spec.first_sector) + " ends beyond it");
    window_offset_ = spec.first_sector * sector_size_;
    if (access_audit* audit = access_audit::active())
        audit_index_ = audit->disk_opened(uint64_t(st.st_size), sector_size_);
    sector_count_ = spec.sectors.value_or(sector_count_ - spec.first_sector);
    // The same file gives the same ID at every boot; the path is not in it.
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint64_t v : {uint64_t(st.st_dev), uint64_t(st.st_ino)})
        for (int i = 0; i < 8; ++i)
            h = (h ^ ((v >> (8 * i)) & 0xFF)) * 0x100000001b3ull;
    for (size_t i = 0; i < id_.size(); ++i) {
        id_[i] = uint8_t(h >> (8 * (i % 8)));
        if (i % 8 == 7)
            h = (h ^ i) * 0x100000001b3ull;
    }
}

disk::~disk()
{
    // writes_kept_in_memory reaches the file only at a clean end: a host process
    // killed before that loses every write, flushed or not.
    for (const auto& [sector, bytes] : kept_)
        if (::pwrite(fd_, bytes.data(), bytes.size(), off_t(sector * sector_size_)) != ssize_t(bytes.size()))
            break;
    if (fd_ >= 0)
        ::close(fd_);
}

bool disk::read(uint64_t guest_offset, std::span<std::byte> out) const
{
    const uint64_t offset = window_offset_ + guest_offset;
    if (access_audit* audit = access_audit::active())
        audit->disk_io(audit_index_, offset, out.size(), false);
    size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, off_t(offset + done));
        if (n < 0 && errno == EINTR && !stop::requested())
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;  // the file shrank under the machine
            return false;
        }
        done += size_t(n);
    }
    for (auto it = kept_.lower_bound(offset / sector_size_);
         it != kept_.end() && it->first * sector_size_ < offset + out.size(); ++it)
        std::copy(it->second.begin(), it->second.end(), out.begin() + long(it->first * sector_size_ - offset));
    return true;
}

bool disk::write(uint64_t guest_offset, std::span<const std::byte> in)
{
    return write_at(window_offset_ + guest_offset, in);
}

bool disk::write_at(uint64_t offset, std::span<const std::byte> in)
{
    if (access_audit* audit = access_audit::active())
        audit->disk_io(audit_index_, offset, in.size(), true);
    // A file-size limit inside the transfer would let pwrite stop in the middle
    // of a sector: write the whole sectors below it, then fail as pwrite would.
    rlimit limit{};
    if (getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
        offset + in.size() > uint64_t(limit.rlim_cur)) {
        const uint64_t room = uint64_t(limit.rlim_cur) > offset ? uint64_t(limit.rlim_cur) - offset : 0;
        const size_t whole = size_t(room / sector_size_ * sector_size_);
        if (whole > 0 && !write_at(offset, in.first(whole)))
            return false;
        errno = EFBIG;
        lost_writes_ = true;
        return false;
    }
    if (deviate.writes_kept_in_memory) {
        for (size_t at = 0; at < in.size(); at += sector_size_)
            kept_[(offset + at) / sector_size_].assign(in.begin() + long(at), in.begin() + long(at + sector_size_));
        return true;
    }
    size_t done = deviate.writes_lose_first_sector ? std::min<size_t>(in.size(), sector_size_) : 0;
    while (done < in.size()) {
        const ssize_t n = ::pwrite(fd_, in.data() + done, in.size() - done, off_t(offset + done));
        if (n < 0 && errno == EINTR && !stop::requested())
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            lost_writes_ = true;
            return false;
        }
        done += size_t(n);
    }
    return true;
}

bool disk::flush()
{
    if (deviate.flush_does_nothing)
        return true;
    if (lost_writes_)
        return false;
    int r;
    do
        r = ::fdatasync(fd_);
    while (r != 0 && errno == EINTR && !stop::requested());
    lost_writes_ = r != 0;
    return r == 0;
}

}  // namespace hbvm
