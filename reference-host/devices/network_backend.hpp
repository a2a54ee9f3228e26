// What a network back end (a segment of sockets, a TAP interface, libslirp in
// the module hbvm-slirp.so) sees of the interface it serves, and what the
// interface sees of it. Header-only: a back-end module uses it and links nothing
// of hbvm_core.
//
// A back end runs on a thread of its own. It takes the frames the guest sent
// from its port (take_outgoing, woken by outgoing_fd) and hands the port the
// frames the network has for the guest (deliver). It never touches the vCPU, and
// nothing it waits for can hold up a stop: its destructor returns at once.
#ifndef HBVM_DEVICES_NETWORK_BACKEND_HPP
#define HBVM_DEVICES_NETWORK_BACKEND_HPP

#include "control/command.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace hbvm {

using mac_address = std::array<uint8_t, 6>;

// The interface's side, for its back end; every function is safe on any thread.
class network_port {
public:
    virtual ~network_port() = default;
    // A frame from the network for the guest: queued when it is for the
    // interface (its MAC, broadcast, multicast) and the link is up, counted
    // in rx_dropped when the receive queue is full, ignored otherwise.
    virtual void deliver(const std::byte* frame, size_t length) = 0;
    // Moves the oldest frame the guest sent into `frame`; false when none waits.
    virtual bool take_outgoing(std::vector<std::byte>& frame) = 0;
    // Readable while frames may wait for take_outgoing (an eventfd: the back
    // end reads it empty, then takes frames until none is left).
    virtual int outgoing_fd() const = 0;
    // The network came or went: the guest sees the link go up or down.
    virtual void set_link(bool up) = 0;
    virtual mac_address mac() const = 0;
    virtual size_t max_frame() const = 0;
    // The interface's name ("net0"), for messages and control commands.
    virtual const std::string& name() const = 0;
    // One "hbvm:" line on stderr.
    virtual void note(const std::string& line) = 0;
};

class network_backend {
public:
    // Stops the back end's thread: returns within milliseconds, whatever the
    // network does (a peer that stalls, a slow DNS server).
    virtual ~network_backend() = default;
    // The back end's own control commands (a user-mode network's port forwards).
    virtual std::vector<std::pair<std::string, control_command>> control_commands() { return {}; }
    // What it counted, for `hbvm run --stats`: one line, or "" for nothing.
    virtual std::string stats() const { return {}; }
};

}  // namespace hbvm

#endif
