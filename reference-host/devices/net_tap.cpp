// The `tap:IFNAME` back end: the host's TAP interface IFNAME (made here when it
// does not exist, which needs root or CAP_NET_ADMIN; a persistent one made for
// the user with `ip tuntap add IFNAME mode tap user USER` needs neither). The
// host side configures the interface (addresses, a bridge); frames go through it
// unchanged. A write the kernel cannot take at once waits on the descriptor, so
// the guest's send queue fills and answers AGAIN.
#include "devices/network.hpp"

#include "core/error.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <thread>
#include <unistd.h>

namespace hbvm {

namespace {

class tap_backend final : public network_backend {
public:
    tap_backend(const std::string& name, network_port& port) : port_(port)
    {
        const std::string where = "--net tap:" + name;
        tap_ = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (tap_ < 0)
            throw error(exit_status::host_failure,
                        where + ": cannot open /dev/net/tun: " + std::strerror(errno) +
                            (errno == ENOENT ? " (load the tun module: modprobe tun)" : ""));
        ifreq request{};
        request.ifr_flags = IFF_TAP | IFF_NO_PI;
        std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
        if (ioctl(tap_, TUNSETIFF, &request) != 0) {
            const int e = errno;
            close(tap_);
            throw error(exit_status::host_failure,
                        where + ": cannot attach to the TAP interface " + name + ": " + std::strerror(e) +
                            (e == EPERM ? " (run as root or with CAP_NET_ADMIN, or have root make one for you: "
                                          "ip tuntap add " + name + " mode tap user $USER)"
                             : e == EBUSY ? " (another program has it open)"
                             : e == EINVAL ? " (" + name + " exists and is not a TAP interface)"
                                           : std::string()));
        }
        quit_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (quit_ < 0) {
            close(tap_);
            throw error(exit_status::host_failure, where + ": eventfd failed: " + std::strerror(errno));
        }
        thread_ = std::thread([this] { run(); });
    }

    ~tap_backend() override
    {
        const uint64_t one = 1;
        (void)!write(quit_, &one, sizeof one);
        thread_.join();
        close(tap_), close(quit_);
    }

    std::string stats() const override
    {
        return "tap: " + std::to_string(oversized_.load()) + " frames from the host over max_frame, " +
               std::to_string(failed_.load()) + " the interface refused";
    }

private:
    void run()
    {
        bool holding = false, quitting = false, gone = false;
        std::vector<std::byte> held;
        std::byte frame[65536];
        timespec quit_by{};
        for (;;) {
            pollfd fds[3] = {{quit_, short(quitting ? 0 : POLLIN), 0},
                             {gone ? -1 : tap_, short(POLLIN | (holding ? POLLOUT : 0)), 0},
                             {port_.outgoing_fd(), short(holding ? 0 : POLLIN), 0}};
            if (poll(fds, 3, quitting ? 10 : -1) < 0 && errno != EINTR)
                return;
            if (fds[0].revents) {
                // What the guest sent before the end still leaves, for up to 20 ms.
                quitting = true;
                clock_gettime(CLOCK_MONOTONIC, &quit_by);
                quit_by.tv_nsec += 20'000'000;
            }
            if (fds[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                // The interface was deleted under us: the cable is cut for good,
                // and the descriptor would report this at every poll.
                gone = true, holding = false;
                port_.set_link(false);
                port_.note("--net tap: the TAP interface went away; the guest's link is down");
                continue;
            }
            if (fds[1].revents & POLLIN)
                for (ssize_t n; (n = read(tap_, frame, sizeof frame)) > 0;) {
                    if (size_t(n) > port_.max_frame())
                        ++oversized_;  // the host's MTU is larger than the guest's
                    else
                        port_.deliver(frame, size_t(n));
                }
            if (fds[2].revents) {
                uint64_t count;
                (void)!read(port_.outgoing_fd(), &count, sizeof count);
            }
            for (;;) {
                if (!holding && !port_.take_outgoing(held))
                    break;
                if (gone) {
                    ++failed_;
                    continue;
                }
                const ssize_t written = write(tap_, held.data(), held.size());
                if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                    holding = true;  // the kernel's queue is full: wait for room
                    break;
                }
                if (written < 0)
                    ++failed_;  // the interface is down on the host's side: the wire is cut
                holding = false;
            }
            timespec now{};
            clock_gettime(CLOCK_MONOTONIC, &now);
            const bool late = now.tv_sec * 1'000'000'000LL + now.tv_nsec >=
                              quit_by.tv_sec * 1'000'000'000LL + quit_by.tv_nsec;
            if (quitting && (!holding || late))
                return;
        }
    }

    network_port& port_;
    int tap_ = -1, quit_ = -1;
    std::atomic<uint64_t> oversized_{0}, failed_{0};
    std::thread thread_;
};

}  // namespace

std::unique_ptr<network_backend> open_tap_backend(const std::string& interface_name, network_port& port)
{
    return std::make_unique<tap_backend>(interface_name, port);
}

}  // namespace hbvm
