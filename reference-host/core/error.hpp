// Host-side errors and the host's process exit statuses.
#ifndef HBVM_CORE_ERROR_HPP
#define HBVM_CORE_ERROR_HPP

#include <stdexcept>
#include <string>

namespace hbvm {

// Exit statuses of `hbvm run` other than the guest's own shutdown code. The
// guest's code can take any value 0..255, so the diagnostic on stderr is what
// tells them apart; these values follow sysexits(3) and timeout(1).
namespace exit_status {
inline constexpr int usage = 64;           // bad command line
inline constexpr int bad_image = 65;       // image missing, malformed, or too large
inline constexpr int bad_disk = 66;        // a --disk file missing, unreadable, wrongly sized or in use
inline constexpr int guest_crashed = 70;   // CPU exception, bad memory access, triple fault
inline constexpr int guest_halted = 71;    // HLT with nothing that could wake the CPU
inline constexpr int host_failure = 74;    // accelerator or host resource failure
inline constexpr int timed_out = 124;      // --timeout expired
inline constexpr int interrupted = 130;    // SIGINT / SIGTERM
}  // namespace exit_status

// A failure the user must act on; `status` is the process exit status to use.
class error : public std::runtime_error {
public:
    error(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
    int status() const noexcept { return status_; }

private:
    int status_;
};

}  // namespace hbvm

#endif
