// The user's terminal: the CONSOLE service writes to stdout and reads stdin
// without blocking. Output to a reader that stalls blocks the guest (CONSOLE.write
// has no AGAIN and must report the full length), but never the host's ability to
// stop: see core/host_io.hpp.
#ifndef HBVM_DEVICES_TERMINAL_HPP
#define HBVM_DEVICES_TERMINAL_HPP

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <termios.h>
#include <vector>

namespace hbvm {

class terminal {
public:
    terminal(int input_fd, int output_fd);
    ~terminal();  // restores the terminal mode if it was changed
    terminal(const terminal&) = delete;
    terminal& operator=(const terminal&) = delete;

    // Writes all bytes; false on an output error (a closed pipe, a full disk, a
    // file larger than `ulimit -f` allows) or when the run is being stopped.
    bool write(std::span<const std::byte> bytes);

    // Reads what is waiting, up to buffer.size() bytes; 0 when nothing is.
    // Returns -1 on an input error. End of input counts as nothing waiting.
    long read_available(std::span<std::byte> buffer);

    // Changes the bytes on their way out; only hbvm --inject-fault sets it.
    std::function<void(std::vector<std::byte>&)> distort_output;

    // Told once per kind of failure (output, input), with what went wrong.
    std::function<void(const std::string&)> on_failure;

private:
    void report(bool& reported, const std::string& what);

    int in_, out_;
    bool raw_ = false;  // stdin switched to byte-at-a-time input
    bool input_eof_ = false;
    bool output_failure_reported_ = false, input_failure_reported_ = false;
    termios saved_{};
};

}  // namespace hbvm

#endif
