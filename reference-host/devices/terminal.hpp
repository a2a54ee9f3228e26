// The user's terminal: the CONSOLE service writes to stdout and reads stdin
// without blocking.
#ifndef HBVM_DEVICES_TERMINAL_HPP
#define HBVM_DEVICES_TERMINAL_HPP

#include <cstddef>
#include <span>
#include <termios.h>

namespace hbvm {

class terminal {
public:
    terminal(int input_fd, int output_fd);
    ~terminal();  // restores the terminal mode if it was changed
    terminal(const terminal&) = delete;
    terminal& operator=(const terminal&) = delete;

    // Writes all bytes; false on an output error.
    bool write(std::span<const std::byte> bytes);

    // Reads what is waiting, up to buffer.size() bytes; 0 when nothing is.
    // Returns -1 on an input error. End of input counts as nothing waiting.
    long read_available(std::span<std::byte> buffer);

private:
    int in_, out_;
    bool raw_ = false;   // stdin switched to byte-at-a-time input
    bool input_eof_ = false;
    termios saved_{};
};

}  // namespace hbvm

#endif
