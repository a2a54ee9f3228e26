// A network interface (NET, spec chapter 16): its MAC address, its bounded
// receive and send queues, its link state and readiness, a packet capture, and
// the back end on the other side of the wire:
//   socket:DIR   a segment shared with every other member of the folder DIR
//                (other hbvm instances, the conformance driver): net_segment.cpp
//   tap:IFNAME   the host's TAP interface IFNAME: net_tap.cpp
//   user         libslirp's user-mode network (NAT, DHCP, DNS, port forwards),
//                in the module hbvm-slirp.so, loaded only when chosen
// The NET service module (services/net.cpp) serves the calls.
//
// Shared between the vCPU (send, recv, link), the back end's thread (deliver,
// take_outgoing) and the control socket (link up/down); every member function
// takes the interface's lock.
#ifndef HBVM_DEVICES_NETWORK_HPP
#define HBVM_DEVICES_NETWORK_HPP

#include "devices/device.hpp"
#include "devices/network_backend.hpp"

#include <hyperbios/abi.hpp>

#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hbvm {

namespace abi = hyperbios::abi;

class network : public device, private network_port {
public:
    struct settings {
        std::string name;                   // 1-32 bytes, distinct within the machine
        std::string backend;                // "socket:DIR", "tap:IFNAME", "user"
        mac_address mac{};
        uint32_t mtu = 1500;
        size_t rx_queue_length = 256;       // frames
        size_t tx_queue_length = 256;       // frames
        std::string pcap;                   // a capture of both directions ("" none)
        device_settings given;              // as the user gave them, for a module's back end
    };
    static constexpr uint32_t max_segments = 64;

    // Opens the capture and starts the back end: hbvm::error naming what failed.
    network(settings s, device_host host);
    ~network() override;
    network(const network&) = delete;
    network& operator=(const network&) = delete;

    const settings& config() const { return settings_; }
    abi::net_info info() const;
    bool link_up() const;
    // The link's state; acknowledges a change (spec 16.6).
    bool acknowledge_link();
    // Ready by the rules of spec 16.5.
    bool ready() const;

    enum class sent { taken, full, link_down };
    // Takes one frame for sending (the caller checked its length): a copy.
    sent send(std::span<const std::span<const std::byte>> parts);
    // The oldest received frame's length, 0 when none waits.
    size_t peek() const;
    // Moves the oldest received frame into `out` when it fits (its length), 0
    // when none waits; nullopt when `out` is too short (the frame stays).
    std::optional<size_t> receive(std::span<std::byte> out);

    // Empties the queues and forgets an unacknowledged link change (spec 16.12).
    void reset();

    // What is called, without the lock, when the interface may have become
    // ready: the service wakes a waiting guest. The service sets an empty one
    // before it goes; the setter waits for a call in flight to return.
    void set_ready_handler(std::function<void()> handler);

    std::vector<std::pair<std::string, control_command>> control_commands() override;
    void take_faults(const fault_injector& faults) override;
    void run_ended() override;

private:
    // network_port, for the back end
    void deliver(const std::byte* frame, size_t length) override;
    bool take_outgoing(std::vector<std::byte>& frame) override;
    int outgoing_fd() const override { return outgoing_fd_; }
    void set_link(bool up) override;
    mac_address mac() const override { return settings_.mac; }
    size_t max_frame() const override { return settings_.mtu + 14; }
    const std::string& name() const override { return settings_.name; }
    void note(const std::string& line) override;

    void capture(const std::byte* frame, size_t length);
    // Sets one side of the link; the guest sees the change of the whole (rule 2 of 16.5).
    void change_link(bool admin, bool up);
    void notify_ready();

    settings settings_;
    device_host host_;
    struct {
        bool again_never = false, frame_truncated = false, vectored_reversed = false, recv_short_takes = false,
             rx_unbounded = false, rx_dropped_uncounted = false, multicast_ignored = false,
             link_change_silent = false;
    } deviate_;  // --inject-fault only
    mutable std::mutex lock_;
    std::deque<std::vector<std::byte>> received_, outgoing_;
    // The link is up while the user has not pulled it (netN-link) and the back
    // end has its network (a segment's link-down file, a TAP interface that went).
    bool admin_up_ = true, carrier_up_ = true, link_up_ = true, link_changed_ = false;
    bool answered_again_ = false, room_since_again_ = false;
    uint64_t rx_dropped_ = 0, frames_sent_ = 0, frames_received_ = 0;
    std::mutex handler_lock_;  // guards on_ready_ and its calls
    std::function<void()> on_ready_;
    std::mutex capture_lock_;
    std::FILE* capture_ = nullptr;
    int outgoing_fd_ = -1;
    std::unique_ptr<network_backend> backend_;  // last: it goes first, while the rest still stands
};

// Back ends inside hbvm (the module's is reached through load_module).
std::unique_ptr<network_backend> open_segment_backend(const std::string& folder, network_port& port);
std::unique_ptr<network_backend> open_tap_backend(const std::string& interface_name, network_port& port);

// The class entry: --net socket:DIR|tap:IFNAME|user[,mac=M][,pcap=PATH][,name=N]...
device_class net_device_class();

// "52:54:00:12:34:56" -> the address, or nullopt for any other text.
std::optional<mac_address> parse_mac(const std::string& text);
std::string format_mac(const mac_address& mac);

}  // namespace hbvm

#endif
