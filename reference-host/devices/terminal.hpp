// The user's terminal: the CONSOLE service writes to stdout and reads stdin
// without blocking. Output to a reader that stalls blocks the guest (CONSOLE.write
// has no AGAIN and must report the full length), but never the host's ability to
// stop: see core/host_io.hpp.
#ifndef HBVM_DEVICES_TERMINAL_HPP
#define HBVM_DEVICES_TERMINAL_HPP

#include "devices/device.hpp"

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <termios.h>
#include <vector>

namespace hbvm {

// The device class "console": the one terminal of the machine (stdin, stdout).
device_class console_device_class();

class terminal final : public device {
public:
    terminal(int input_fd, int output_fd);
    ~terminal() override;  // restores the terminal mode if it was changed
    terminal(const terminal&) = delete;
    terminal& operator=(const terminal&) = delete;

    // Writes all bytes; false on an output error (a closed pipe, a full disk, a
    // file larger than `ulimit -f` allows) or when the run is being stopped.
    bool write(std::span<const std::byte> bytes);

    // Reads what is waiting, up to buffer.size() bytes; 0 when nothing is.
    // Returns -1 on an input error. End of input counts as nothing waiting.
    long read_available(std::span<std::byte> buffer);

    // Whether input is waiting for read_available (the console-input event
    // source): looks at the descriptor without blocking and keeps what it reads
    // for the next read_available.
    bool input_waiting();
    bool input_held() const { return !held_.empty(); }  // input_waiting without looking at the descriptor

    // Whether the input has ended (CONSOLE.input_state): nothing held, and the
    // descriptor at its end. Looks at the descriptor without blocking, keeping
    // what it reads, so the answer is current, not that of the last read.
    bool input_ended();

    // The descriptor that becomes readable when input may be waiting; -1 once
    // input has ended or failed (nothing more can arrive).
    int input_fd() const { return input_eof_ || input_failed_ ? -1 : in_; }

    // Changes the bytes on their way out; only hbvm --inject-fault sets it.
    std::function<void(std::vector<std::byte>&)> distort_output;
    void take_faults(const fault_injector& faults) override;

    // Told once per kind of failure (output, input), with what went wrong.
    std::function<void(const std::string&)> on_failure;

private:
    void report(bool& reported, const std::string& what);
    void enter_byte_mode();
    long read_descriptor(std::span<std::byte> buffer);  // read_available without the held bytes

    int in_, out_;
    bool raw_ = false;  // stdin switched to byte-at-a-time input
    bool input_eof_ = false;
    bool input_failed_ = false;
    std::vector<std::byte> held_;  // read by input_waiting, not yet by the guest
    bool output_failure_reported_ = false, input_failure_reported_ = false;
    termios saved_{};
};

}  // namespace hbvm

#endif
