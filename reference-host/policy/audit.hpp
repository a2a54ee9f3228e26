// The access audit (`hbvm run --audit FILE`): a second, independent look at
// every device access and every call a handler served, checked against the
// profile itself — not against what the devices were configured with — so that
// a mistake in applying the profile (a window off by a sector, a limit not
// applied, a refused call that ran) shows as a violation. It is how the test of
// issue 24 shows that nothing outside the policy is reachable; it is off
// unless asked for, and costs one branch per access then.
//
// At the end of a run one line is appended to FILE (O_APPEND, so the runs of a
// whole conformance suite can share one file):
//   audit profile=ps3 calls=N disk-accesses=N disk-bytes=N display-modes=N
//         display-rects=N net-frames=N audio-frames=N violations=N[ first: WHAT]
// (one such line at each reboot too, with what was counted since the last).
// and each of the first violations is also said on stderr ("hbvm: audit: ...")
// and appended at once, so that a run killed before its end leaves it:
//   audit-violation profile=ps3 WHAT
#ifndef HBVM_POLICY_AUDIT_HPP
#define HBVM_POLICY_AUDIT_HPP

#include "policy/profile.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace hbvm {

class access_audit {
public:
    ~access_audit();
    // The audit of this process's run, or nullptr when hbvm was not asked for
    // one (devices made in unit tests see nullptr).
    static access_audit* active();
    // Starts auditing against `policy`, to be summed up in `path` (checked now:
    // a file that cannot be appended to is a usage error before anything boots).
    static void start(const profile& policy, const std::string& path);
    // Appends the summary line of what was counted since the last one, and
    // starts counting again: at a reboot (checkpoint), and at the end (finish),
    // so that a run killed after a reboot keeps what its first boots saw.
    static void checkpoint();
    static void finish();

    // A disk was opened: its host file's size in bytes and its sector size. The
    // disk's number (its --disk order) is returned; the disk passes it back.
    unsigned disk_opened(uint64_t file_bytes, uint32_t sector_size);
    // The host read or wrote [file_offset, file_offset + length) of disk `disk`'s file.
    void disk_io(unsigned disk, uint64_t file_offset, uint64_t length, bool write);
    // A display's mode became width x height; a rectangle of the mode was drawn.
    unsigned display_opened();
    void display_mode(unsigned display, uint32_t width, uint32_t height);
    void display_rect(unsigned display, uint32_t x, uint32_t y, uint32_t width, uint32_t height, uint32_t mode_width,
                      uint32_t mode_height);
    // A frame left a network interface through back end `kind`; frames of
    // sound left an output stream.
    void net_frame(const std::string& kind);
    void audio_frames(uint64_t frames);
    // A handler served a call of `f` (the call passed every check before it).
    void call_served(hyperbios::abi::function f, uint64_t now_ns);

    uint64_t violations() const;

private:
    access_audit(const profile& policy, std::string path, int fd);
    void violation(const std::string& what);
    void append(const std::string& text);  // one write: lines of concurrent runs stay whole

    profile policy_;
    std::string path_;
    int fd_;  // open for the whole run: a regular file, O_APPEND
    mutable std::mutex lock_;
    struct disk_facts {
        uint64_t file_bytes = 0;
        uint32_t sector_size = 512;
    };
    std::vector<disk_facts> disks_;
    unsigned displays_ = 0;
    std::map<hyperbios::abi::function, std::deque<uint64_t>> served_;  // limited functions: when each was served
    uint64_t calls_ = 0, disk_accesses_ = 0, disk_bytes_ = 0, display_modes_ = 0, display_rects_ = 0,
             net_frames_ = 0, audio_frames_ = 0, violations_ = 0;
    std::string first_violation_;
};

}  // namespace hbvm

#endif
