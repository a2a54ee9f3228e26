// Writes to the host's file descriptors that the outside world can stall (a
// pipe nobody reads, a terminal on hold, a full disk) without making the VM
// unstoppable. Inherited descriptors are never switched to O_NONBLOCK: the
// shell and other processes share their open file descriptions.
#ifndef HBVM_CORE_HOST_IO_HPP
#define HBVM_CORE_HOST_IO_HPP

#include <chrono>
#include <cstddef>
#include <span>

namespace hbvm::host_io {

struct write_result {
    enum class kind {
        complete,  // every byte was written
        failed,    // the descriptor reported an error (error holds errno)
        stopped,   // the run is being stopped (core/stop.hpp); the rest was dropped
    };
    kind what;
    size_t written;
    int error;
};

// Writes every byte to `fd`, retrying after EINTR and, on a descriptor someone
// made non-blocking, after EAGAIN once it is writable again. When a write is
// held up (blocked, or a slow reader), gives up once a stop was requested at
// least `patience` ago: guest output gives up at once, hbvm's own diagnostics
// wait a little so that the line saying why the run ended usually gets out.
write_result write_all(int fd, std::span<const std::byte> bytes,
                       std::chrono::milliseconds patience = std::chrono::milliseconds(0));

}  // namespace hbvm::host_io

#endif
