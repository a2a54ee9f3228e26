#include "devices/network.hpp"

#include "core/diagnostics.hpp"
#include "core/error.hpp"
#include "core/fault_injection.hpp"
#include "devices/module_loader.hpp"
#include "policy/audit.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sys/eventfd.h>
#include <unistd.h>

namespace hbvm {

namespace {

bool multicast(const std::byte* frame) { return (uint8_t(frame[0]) & 1) != 0; }

// The pcap file format (tcpdump, Wireshark): a global header, then per frame a
// record header with the time in microseconds and the lengths. Link type 1 is
// Ethernet; frames are captured whole.
void write_capture_header(std::FILE* f)
{
    struct {
        uint32_t magic = 0xA1B2C3D4;
        uint16_t major = 2, minor = 4;
        int32_t zone = 0;
        uint32_t sigfigs = 0, snaplen = 65535, linktype = 1;
    } header;
    std::fwrite(&header, sizeof header, 1, f);
    std::fflush(f);
}

}  // namespace

std::optional<mac_address> parse_mac(const std::string& text)
{
    mac_address mac{};
    if (text.size() != 17)
        return std::nullopt;
    for (size_t i = 0; i < 6; ++i) {
        if (i && text[i * 3 - 1] != ':')
            return std::nullopt;
        unsigned value = 0;
        for (size_t j = 0; j < 2; ++j) {
            const char c = text[i * 3 + j];
            const int digit = c >= '0' && c <= '9' ? c - '0'
                              : c >= 'a' && c <= 'f' ? c - 'a' + 10
                              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                     : -1;
            if (digit < 0)
                return std::nullopt;
            value = value * 16 + unsigned(digit);
        }
        mac[i] = uint8_t(value);
    }
    return mac;
}

std::string format_mac(const mac_address& mac)
{
    char text[18];
    std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    return text;
}

network::network(settings s, device_host host) : settings_(std::move(s)), host_(std::move(host))
{
    outgoing_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (outgoing_fd_ < 0)
        throw error(exit_status::host_failure, std::string("eventfd failed: ") + std::strerror(errno));
    if (!settings_.pcap.empty()) {
        capture_ = std::fopen(settings_.pcap.c_str(), "wbe");
        if (!capture_)
            throw error(exit_status::host_failure, settings_.given.origin + ": cannot write the capture " +
                                                        settings_.pcap + ": " + std::strerror(errno));
        write_capture_header(capture_);
    }
    const std::string& b = settings_.backend;
    if (b.rfind("socket:", 0) == 0) {
        backend_ = open_segment_backend(b.substr(7), *this);
    } else if (b.rfind("tap:", 0) == 0) {
        backend_ = open_tap_backend(b.substr(4), *this);
    } else {
        const module_entry& module = load_module("slirp", settings_.given.origin);
        if (!module.open_network)
            throw error(exit_status::host_failure, settings_.given.origin + ": the module hbvm-slirp.so has no network");
        backend_ = module.open_network(settings_.given, *this);
    }
}

network::~network()
{
    {
        std::lock_guard guard(handler_lock_);
        on_ready_ = nullptr;
    }
    backend_.reset();  // its thread stops before the queues and the fd go
    if (capture_)
        std::fclose(capture_);
    close(outgoing_fd_);
}

abi::net_info network::info() const
{
    abi::net_info record{};
    record.size = sizeof record;
    record.version = 1;
    std::memcpy(record.mac, settings_.mac.data(), sizeof record.mac);
    record.mtu = settings_.mtu;
    record.max_frame = settings_.mtu + 14;
    record.rx_queue_length = uint32_t(settings_.rx_queue_length);
    record.tx_queue_length = uint32_t(settings_.tx_queue_length);
    record.max_segments = max_segments;
    std::memcpy(record.name, settings_.name.data(), std::min(settings_.name.size(), sizeof record.name));
    std::lock_guard guard(lock_);
    record.link = link_up_ ? abi::net_link::up : abi::net_link::down;
    record.rx_dropped = rx_dropped_;
    return record;
}

bool network::link_up() const
{
    std::lock_guard guard(lock_);
    return link_up_;
}

bool network::acknowledge_link()
{
    std::lock_guard guard(lock_);
    link_changed_ = false;
    return link_up_;
}

bool network::ready() const
{
    std::lock_guard guard(lock_);
    return !received_.empty() || link_changed_ || room_since_again_;
}

network::sent network::send(std::span<const std::span<const std::byte>> parts)
{
    std::vector<std::byte> frame;
    if (deviate_.vectored_reversed)
        for (size_t i = parts.size(); i-- > 0;)
            frame.insert(frame.end(), parts[i].begin(), parts[i].end());
    else
        for (std::span<const std::byte> part : parts)
            frame.insert(frame.end(), part.begin(), part.end());
    if (deviate_.frame_truncated)
        frame.pop_back();
    {
        std::lock_guard guard(lock_);
        answered_again_ = room_since_again_ = false;  // this send ends readiness by rule 3 (spec 16.5)
        if (!link_up_)
            return sent::link_down;
        if (outgoing_.size() >= settings_.tx_queue_length && deviate_.again_never)
            return sent::taken;  // dropped
        if (outgoing_.size() >= settings_.tx_queue_length) {
            answered_again_ = true;
            return sent::full;
        }
        outgoing_.push_back(frame);
        ++frames_sent_;
    }
    if (access_audit* audit = access_audit::active())
        audit->net_frame(settings_.backend.substr(0, settings_.backend.find(':')));
    capture(frame.data(), frame.size());
    const uint64_t one = 1;
    (void)!write(outgoing_fd_, &one, sizeof one);
    return sent::taken;
}

size_t network::peek() const
{
    std::lock_guard guard(lock_);
    return received_.empty() ? 0 : received_.front().size();
}

std::optional<size_t> network::receive(std::span<std::byte> out)
{
    std::lock_guard guard(lock_);
    if (received_.empty())
        return 0;
    const std::vector<std::byte>& frame = received_.front();
    if (frame.size() > out.size() && !deviate_.recv_short_takes)
        return std::nullopt;
    const size_t length = std::min(frame.size(), out.size());
    std::memcpy(out.data(), frame.data(), length);
    received_.pop_front();
    return length;
}

void network::reset()
{
    std::lock_guard guard(lock_);
    received_.clear();
    outgoing_.clear();
    link_changed_ = answered_again_ = room_since_again_ = false;
}

void network::set_ready_handler(std::function<void()> handler)
{
    std::lock_guard guard(handler_lock_);
    on_ready_ = std::move(handler);
}

void network::notify_ready()
{
    std::lock_guard guard(handler_lock_);
    if (on_ready_)
        on_ready_();
}

void network::deliver(const std::byte* frame, size_t length)
{
    if (length < 14 || length > max_frame())
        return;
    if (!multicast(frame) && std::memcmp(frame, settings_.mac.data(), 6) != 0)
        return;  // another station's (spec 16.11: MAY be delivered; this host does not)
    {
        std::lock_guard guard(lock_);
        if (!link_up_ || (multicast(frame) && deviate_.multicast_ignored))
            return;
        if (received_.size() >= settings_.rx_queue_length && !deviate_.rx_unbounded) {
            if (!deviate_.rx_dropped_uncounted)
                ++rx_dropped_;
        } else {
            received_.emplace_back(frame, frame + length);
            ++frames_received_;
        }
    }
    capture(frame, length);
    notify_ready();
}

bool network::take_outgoing(std::vector<std::byte>& frame)
{
    bool room_again = false;
    {
        std::lock_guard guard(lock_);
        if (outgoing_.empty())
            return false;
        frame = std::move(outgoing_.front());
        outgoing_.pop_front();
        if (answered_again_ && !room_since_again_)
            room_again = room_since_again_ = true;
    }
    if (room_again)
        notify_ready();
    return true;
}

void network::set_link(bool up) { change_link(false, up); }

void network::change_link(bool admin, bool up)
{
    {
        std::lock_guard guard(lock_);
        (admin ? admin_up_ : carrier_up_) = up;
        if (link_up_ == (admin_up_ && carrier_up_))
            return;
        link_up_ = admin_up_ && carrier_up_;
        link_changed_ = !deviate_.link_change_silent;
        if (!link_up_) {
            outgoing_.clear();  // a frame taken before the link went down may be lost (spec HB-NET-006)
            room_since_again_ = answered_again_;  // the queue has room now (rule 3 of 16.5)
        }
    }
    notify_ready();
}

void network::note(const std::string& line)
{
    if (host_.note)
        host_.note(line);
    else
        diagnostics::line(line);
}

void network::capture(const std::byte* frame, size_t length)
{
    if (!capture_)
        return;
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    const uint32_t record[4] = {uint32_t(now.tv_sec), uint32_t(now.tv_nsec / 1000), uint32_t(length),
                                uint32_t(length)};
    std::lock_guard guard(capture_lock_);
    std::fwrite(record, sizeof record, 1, capture_);
    std::fwrite(frame, 1, length, capture_);
    std::fflush(capture_);  // readable while the machine runs (tcpdump -r, a test)
}

std::vector<std::pair<std::string, control_command>> network::control_commands()
{
    std::vector<std::pair<std::string, control_command>> commands = {
        {settings_.name + "-link",
         {"set the link {\"up\": true|false}, as plugging or pulling the cable; answers the state",
          [this](const json::object& a) {
              const auto it = a.find("up");
              const bool* up = it == a.end() ? nullptr : std::get_if<bool>(&it->second.data);
              if (it != a.end() && !up)
                  throw control_command_error{"GenericError", "give \"up\": true or false"};
              if (up)
                  change_link(true, *up);
              return json::value(json::object{{"up", link_up()}});
          }}},
    };
    for (auto& c : backend_->control_commands())
        commands.push_back(std::move(c));
    return commands;
}

void network::take_faults(const fault_injector& faults)
{
    const fault_injector::network_deviations d = faults.network_faults();
    std::lock_guard guard(lock_);  // the back end's thread reads them already
    deviate_.again_never = d.again_never, deviate_.frame_truncated = d.frame_truncated;
    deviate_.vectored_reversed = d.vectored_reversed, deviate_.recv_short_takes = d.recv_short_takes;
    deviate_.rx_unbounded = d.rx_unbounded, deviate_.rx_dropped_uncounted = d.rx_dropped_uncounted;
    deviate_.multicast_ignored = d.multicast_ignored, deviate_.link_change_silent = d.link_change_silent;
}

void network::run_ended()
{
    if (!host_.stats)
        return;
    std::lock_guard guard(lock_);
    std::string line = settings_.name + ": stats: " + std::to_string(frames_sent_) + " frames sent, " +
                       std::to_string(frames_received_) + " received, " + std::to_string(rx_dropped_) +
                       " dropped for a full receive queue";
    const std::string more = backend_->stats();
    diagnostics::line(more.empty() ? line : line + "; " + more);
}

namespace {

// 52:54:00 (QEMU's locally administered prefix), then the interface's number
// for a back end with one machine on it (user, tap); on a segment, which other
// hbvm instances share, three bytes of the process ID too, so that two
// machines started without mac= do not collide.
mac_address default_mac(const std::string& backend, size_t index)
{
    mac_address mac{0x52, 0x54, 0x00, 0x12, 0x34, uint8_t(0x56 + index)};
    if (backend.rfind("socket:", 0) == 0) {
        const uint32_t mixed = (uint32_t(getpid()) * 2654435761u) ^ uint32_t(index);
        mac[3] = uint8_t(mixed >> 16), mac[4] = uint8_t(mixed >> 8), mac[5] = uint8_t(mixed);
    }
    return mac;
}

uint64_t number(const device_settings& s, const char* key, uint64_t fallback, uint64_t least, uint64_t most)
{
    const std::optional<std::string> text = s.get(key);
    if (!text)
        return fallback;
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(text->c_str(), &end, 10);
    if (text->empty() || *end || errno || v < least || v > most)
        throw error(exit_status::usage, s.origin + ": " + key + "=" + *text + " is not a number from " +
                                            std::to_string(least) + " to " + std::to_string(most));
    return v;
}

network::settings settings_of(const device_settings& s, size_t index)
{
    network::settings d;
    d.given = s;
    d.name = s.get("name").value_or("net" + std::to_string(index));
    d.backend = s.get("backend").value_or("");
    if (const std::optional<std::string> m = s.get("mac")) {
        const std::optional<mac_address> mac = parse_mac(*m);
        if (!mac)
            throw error(exit_status::usage, s.origin + ": mac=" + *m + " is not a MAC address (write it as 52:54:00:12:34:56)");
        if ((*mac)[0] & 1)
            throw error(exit_status::usage, s.origin + ": mac=" + *m + " is a multicast address; an interface needs a "
                                                "unicast one (bit 0 of the first byte clear, e.g. 52:54:00:12:34:56)");
        if (*mac == mac_address{})
            throw error(exit_status::usage, s.origin + ": mac=00:00:00:00:00:00 is not an interface's address");
        d.mac = *mac;
    } else {
        d.mac = default_mac(d.backend, index);
    }
    d.mtu = uint32_t(number(s, "mtu", 1500, 576, 9000));
    d.rx_queue_length = number(s, "rx-queue", 256, 32, 65536);
    d.tx_queue_length = number(s, "tx-queue", 256, 1, 65536);
    d.pcap = s.get("pcap").value_or("");
    return d;
}

void check_networks(std::vector<device_settings>& all)
{
    for (size_t i = 0; i < all.size(); ++i) {
        device_settings& s = all[i];
        const std::string b = s.get("backend").value_or("");
        const bool socket = b.rfind("socket:", 0) == 0, tap = b.rfind("tap:", 0) == 0, user = b == "user";
        if (!socket && !tap && !user)
            throw error(exit_status::usage, s.origin + ": a network is user, tap:IFNAME or socket:DIR, not '" + b + "'");
        if (socket && b.size() == 7)
            throw error(exit_status::usage, s.origin + ": socket: needs the segment's folder (socket:/tmp/seg)");
        if (tap && (b.size() == 4 || b.size() - 4 > 15))
            throw error(exit_status::usage, s.origin + ": tap: needs the interface's name, 1 to 15 bytes (tap:tap0)");
        if (!user && (s.get("hostfwd") || s.get("net")))
            throw error(exit_status::usage, s.origin + ": hostfwd= and net= are options of the user network");
        const network::settings d = settings_of(s, i);  // checks the values
        if (!s.get("name"))
            s.values.emplace_back("name", d.name);
        // A name is part of the segment's socket file name: no '/', no control bytes.
        const bool printable = std::all_of(d.name.begin(), d.name.end(),
                                           [](char c) { return c != '/' && (unsigned char)c >= 0x20 && c != 0x7F; });
        if (d.name.empty() || d.name.size() > 32 || !printable)
            throw error(exit_status::usage, s.origin + ": an interface's name is 1 to 32 bytes, without '/' or "
                                                       "control characters");
        for (size_t j = 0; j < i; ++j) {
            if (all[j].get("name") == d.name)
                throw error(exit_status::usage, s.origin + ": the name '" + d.name +
                                                    "' is another interface's already; give one another name=");
            if (settings_of(all[j], j).mac == d.mac)
                throw error(exit_status::usage, s.origin + ": its MAC address " + format_mac(d.mac) +
                                                    " is another interface's already; give one another mac=");
        }
    }
}

std::vector<std::unique_ptr<device>> create_networks(const std::vector<device_settings>& all, const device_host& host)
{
    std::vector<std::unique_ptr<device>> made;
    for (size_t i = 0; i < all.size(); ++i)
        made.push_back(std::make_unique<network>(settings_of(all[i], i), host));
    return made;
}

}  // namespace

device_class net_device_class()
{
    return {"net",
            "  --net user|tap:IFNAME|socket:DIR[,mac=M][,pcap=FILE][,name=N][,mtu=B]\n"
            "                  a network interface for the NET service, repeatable up to\n"
            "                  64 times (none when none is given): user is a NAT to the\n"
            "                  host's network with DHCP and DNS (libslirp, in the module\n"
            "                  hbvm-slirp.so; hostfwd=tcp::8080-:80 forwards a host\n"
            "                  port, several separated by spaces; net=10.0.2.0/24);\n"
            "                  tap:IFNAME is the host's TAP interface (root or\n"
            "                  CAP_NET_ADMIN, or one made for you: ip tuntap add IFNAME\n"
            "                  mode tap user $USER); socket:DIR joins the Ethernet segment\n"
            "                  of the folder DIR, shared with every hbvm (and other\n"
            "                  program) whose socket is in it. mac= is the interface's\n"
            "                  address (default 52:54:00:12:34:56 + N); pcap= captures\n"
            "                  both directions for tcpdump or Wireshark; rx-queue= and\n"
            "                  tx-queue= size the queues in frames (default 256)\n",
            "backend",
            {"backend", "name", "mac", "mtu", "pcap", "rx-queue", "tx-queue", "hostfwd", "net"},
            {},
            64,
            false,
            check_networks,
            create_networks};
}

}  // namespace hbvm
