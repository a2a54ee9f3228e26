#include "policy/audit.hpp"

#include "core/diagnostics.hpp"
#include "core/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <memory>
#include <unistd.h>

namespace hbvm {

namespace abi = hyperbios::abi;

namespace {

std::unique_ptr<access_audit>& the_audit()
{
    static std::unique_ptr<access_audit> audit;
    return audit;
}

constexpr unsigned violations_said = 10;  // on stderr; the count goes on

std::string function_name(abi::function f)
{
    const abi::function_desc* d = abi::find_function(uint64_t(f));
    return d ? std::string(d->service_name) + "." + d->name : "?";
}

}  // namespace

access_audit::access_audit(const profile& policy, std::string path, int fd)
    : policy_(policy), path_(std::move(path)), fd_(fd)
{
}

access_audit::~access_audit() { ::close(fd_); }

void access_audit::append(const std::string& text)
{
    if (::write(fd_, text.data(), text.size()) != ssize_t(text.size()))
        diagnostics::line("audit: could not write " + path_ + ": " + std::strerror(errno));
}

access_audit* access_audit::active() { return the_audit().get(); }

void access_audit::start(const profile& policy, const std::string& path)
{
    // Opened once, for the run, without waiting: a FIFO or a device could block
    // a write with nobody to stop it, so only a regular file is taken.
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
    if (fd < 0)
        throw error(exit_status::usage, "--audit " + path + ": " +
                                            (errno == ENXIO ? "not a regular file (a FIFO); give a file to append to"
                                                            : std::strerror(errno)));
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw error(exit_status::usage, "--audit " + path + ": not a regular file; give a file to append to");
    }
    the_audit().reset(new access_audit(policy, path, fd));
}

void access_audit::finish()
{
    checkpoint();
    the_audit().reset();
}

void access_audit::checkpoint()
{
    access_audit* a = active();
    if (!a)
        return;
    std::string text;
    {
        std::lock_guard guard(a->lock_);
        text = "audit profile=" + a->policy_.name + " calls=" + std::to_string(a->calls_) +
               " disk-accesses=" + std::to_string(a->disk_accesses_) + " disk-bytes=" + std::to_string(a->disk_bytes_) +
               " display-modes=" + std::to_string(a->display_modes_) +
               " display-rects=" + std::to_string(a->display_rects_) + " net-frames=" + std::to_string(a->net_frames_) +
               " audio-frames=" + std::to_string(a->audio_frames_) + " violations=" + std::to_string(a->violations_);
        if (a->violations_)
            text += " first: " + a->first_violation_;
        text += "\n";
        a->calls_ = a->disk_accesses_ = a->disk_bytes_ = a->display_modes_ = a->display_rects_ = a->net_frames_ =
            a->audio_frames_ = a->violations_ = 0;
        a->first_violation_.clear();
    }
    a->append(text);
}

void access_audit::violation(const std::string& what)
{
    // lock_ is held.
    if (violations_++ == 0)
        first_violation_ = what;
    if (violations_ > violations_said)
        return;
    diagnostics::line("audit: outside profile " + policy_.name + ": " + what);
    // At once too, so that a run killed before its end (the block image's
    // durability test is) still leaves what it saw.
    append("audit-violation profile=" + policy_.name + " " + what + "\n");
}

uint64_t access_audit::violations() const
{
    std::lock_guard guard(lock_);
    return violations_;
}

unsigned access_audit::disk_opened(uint64_t file_bytes, uint32_t sector_size)
{
    std::lock_guard guard(lock_);
    disks_.push_back({file_bytes, sector_size});
    return unsigned(disks_.size() - 1);
}

void access_audit::disk_io(unsigned disk, uint64_t file_offset, uint64_t length, bool write)
{
    std::lock_guard guard(lock_);
    ++disk_accesses_;
    disk_bytes_ += length;
    const std::string which = "disk " + std::to_string(disk);
    if (!policy_.offers(abi::service::block)) {
        violation(which + " accessed, but the profile does not offer BLOCK");
        return;
    }
    if (disk >= disks_.size()) {
        violation(which + " accessed, but no such disk was opened");
        return;
    }
    const disk_facts& d = disks_[disk];
    uint64_t first = 0, end = d.file_bytes;
    bool read_only = false;
    if (const disk_window* w = policy_.window_of(disk)) {
        first = w->first_sector * d.sector_size;
        end = w->sectors ? first + *w->sectors * d.sector_size : d.file_bytes;
        read_only = w->read_only;
    }
    if (file_offset < first || file_offset + length > end || file_offset + length < file_offset)
        violation(which + (write ? " written" : " read") + " at bytes " + std::to_string(file_offset) + "+" +
                  std::to_string(length) + ", outside the profile's window [" + std::to_string(first) + ", " +
                  std::to_string(end) + ")");
    else if (write && read_only)
        violation(which + " written at byte " + std::to_string(file_offset) + ", but the profile makes it read-only");
}

unsigned access_audit::display_opened()
{
    std::lock_guard guard(lock_);
    return displays_++;
}

void access_audit::display_mode(unsigned display, uint32_t width, uint32_t height)
{
    std::lock_guard guard(lock_);
    ++display_modes_;
    if (!policy_.offers(abi::service::dsp))
        violation("display " + std::to_string(display) + " set a mode, but the profile does not offer DSP");
    else if ((policy_.max_display_width && width > policy_.max_display_width) ||
             (policy_.max_display_height && height > policy_.max_display_height))
        violation("display " + std::to_string(display) + " in mode " + std::to_string(width) + "x" +
                  std::to_string(height) + ", beyond the profile's largest, " + std::to_string(policy_.max_display_width) +
                  "x" + std::to_string(policy_.max_display_height));
}

void access_audit::display_rect(unsigned display, uint32_t x, uint32_t y, uint32_t width, uint32_t height,
                                uint32_t mode_width, uint32_t mode_height)
{
    std::lock_guard guard(lock_);
    ++display_rects_;
    if (uint64_t(x) + width > mode_width || uint64_t(y) + height > mode_height ||
        (policy_.max_display_width && mode_width > policy_.max_display_width) ||
        (policy_.max_display_height && mode_height > policy_.max_display_height))
        violation("display " + std::to_string(display) + " drew " + std::to_string(width) + "x" +
                  std::to_string(height) + " at (" + std::to_string(x) + ", " + std::to_string(y) + ") in a " +
                  std::to_string(mode_width) + "x" + std::to_string(mode_height) + " mode, outside the profile's limits");
}

void access_audit::net_frame(const std::string& kind)
{
    std::lock_guard guard(lock_);
    ++net_frames_;
    if (!policy_.offers(abi::service::net))
        violation("a network frame left through " + kind + ", but the profile does not offer NET");
    else if (!policy_.allows_net_backend(kind))
        violation("a network frame left through " + kind + ", a back end the profile does not allow");
}

void access_audit::audio_frames(uint64_t frames)
{
    std::lock_guard guard(lock_);
    audio_frames_ += frames;
    if (!policy_.offers(abi::service::aud))
        violation(std::to_string(frames) + " frames of sound played, but the profile does not offer AUD");
}

void access_audit::call_served(abi::function f, uint64_t now_ns)
{
    std::lock_guard guard(lock_);
    ++calls_;
    const abi::service svc = abi::service(uint64_t(f) >> 16);
    if (!policy_.offers(svc)) {
        violation(function_name(f) + " was served, but the profile does not offer its service");
        return;
    }
    if (policy_.denies(f)) {
        violation(function_name(f) + " was served, but the profile denies it");
        return;
    }
    // The rate, counted again here: more than the limit served in one second.
    if (const rate_limit* r = policy_.rate_of(f)) {
        std::deque<uint64_t>& times = served_[f];
        times.push_back(now_ns);
        while (!times.empty() && now_ns - times.front() >= 1'000'000'000)
            times.pop_front();
        if (times.size() > r->per_second)
            violation(function_name(f) + " served " + std::to_string(times.size()) + " times within a second; the profile allows " +
                      std::to_string(r->per_second));
    }
}

}  // namespace hbvm
