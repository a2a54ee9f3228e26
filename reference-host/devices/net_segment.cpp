// The `socket:DIR` back end: an Ethernet segment in a folder, shared by every
// program whose socket is in it — other hbvm instances, the conformance driver,
// a test. Documented for other programs in spec's companion, conformance/README.md
// ("The segment format"):
//   - each member binds a Unix datagram socket in DIR, under any name; every
//     socket file in DIR is a member;
//   - a datagram is one Ethernet frame (destination, source, EtherType,
//     payload; no preamble, no frame check sequence);
//   - a member sends each frame to every other member's socket, and reads the
//     frames sent to its own. The segment is a hub: a member sees every frame
//     and keeps those for its address, broadcast and multicast;
//   - while DIR holds a file named `link-down`, the segment's link is down:
//     its members' interfaces say so to their guests (a pulled cable).
// Like an Ethernet, the segment may lose a frame: a member whose socket stays
// full for two seconds loses the frames sent to it meanwhile (it is "stalled"
// until its socket has room again), so that one member that stops reading
// cannot stop the others. Until then the sender waits for it — and the guest's
// send queue fills and answers AGAIN, the back-pressure a real port gives.
#include "devices/network.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <map>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

namespace hbvm {

namespace {

constexpr int stall_ms = 2000;  // a member that takes nothing for this long loses frames
constexpr int drain_ms = 20;    // at the end, what the guest sent may still leave for this long

std::optional<sockaddr_un> unix_address(const std::string& path)
{
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path)
        return std::nullopt;
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return a;
}

int64_t now_ms()
{
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return int64_t(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

class segment_backend final : public network_backend {
public:
    segment_backend(const std::string& folder, network_port& port) : folder_(folder), port_(port)
    {
        const std::string where = "--net socket:" + folder;
        struct stat st{};
        if (stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
            throw error(exit_status::usage, where + ": " + folder + " is not a folder (make it first: mkdir -p " +
                                                folder + ")");
        own_name_ = "hbvm-" + std::to_string(getpid()) + "-" + port.name();
        own_path_ = folder + "/" + own_name_;
        const std::optional<sockaddr_un> own = unix_address(own_path_);
        if (!own)
            throw error(exit_status::usage, where + ": the socket path " + own_path_ + " is longer than " +
                                                std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                                " bytes; use a shorter folder");
        socket_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        notify_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        quit_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (socket_ < 0 || notify_ < 0 || quit_ < 0)
            throw error(exit_status::host_failure, where + ": " + std::strerror(errno));
        unlink(own_path_.c_str());  // a socket left by a process of the same ID
        if (bind(socket_, reinterpret_cast<const sockaddr*>(&*own), sizeof *own) != 0)
            throw error(exit_status::host_failure, where + ": cannot bind " + own_path_ + ": " + std::strerror(errno));
        // Room for large frames. (How many datagrams wait in a Unix socket is
        // net.unix.max_dgram_qlen's, 10 on Debian: a burst waits in the
        // sender's queue, hbvm's back end holding a frame until there is room.)
        const int buffer = 1 << 20;
        setsockopt(socket_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
        if (inotify_add_watch(notify_, folder.c_str(), IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM) < 0)
            throw error(exit_status::host_failure, where + ": cannot watch " + folder + ": " + std::strerror(errno));
        rescan();
        thread_ = std::thread([this] { run(); });
    }

    ~segment_backend() override
    {
        const uint64_t one = 1;
        (void)!write(quit_, &one, sizeof one);
        thread_.join();
        for (auto& [name, m] : members_)
            close(m.fd);
        unlink(own_path_.c_str());
        close(socket_), close(notify_), close(quit_);
    }

    std::string stats() const override
    {
        return "segment: " + std::to_string(lost_.load()) + " frames lost to members that stalled";
    }

private:
    struct member {
        int fd = -1;
        bool owed = false;    // the held frame has not reached it yet
        bool stalled = false; // skipped until its socket has room again
    };

    // Every socket file of the folder but our own is a member.
    void rescan()
    {
        std::map<std::string, bool> present;
        if (DIR* d = opendir(folder_.c_str())) {
            while (dirent* e = readdir(d)) {
                bool socket_file = e->d_type == DT_SOCK;
                struct stat st{};
                if (e->d_type == DT_UNKNOWN)  // a file system that does not say
                    socket_file = lstat((folder_ + "/" + e->d_name).c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
                if (socket_file && own_name_ != e->d_name)
                    present[e->d_name] = true;
            }
            closedir(d);
        }
        port_.set_link(access((folder_ + "/link-down").c_str(), F_OK) != 0);
        for (auto it = members_.begin(); it != members_.end();)
            if (!present.count(it->first)) {
                close(it->second.fd);
                it = members_.erase(it);
            } else {
                ++it;
            }
        for (const auto& [name, unused] : present) {
            if (members_.count(name))
                continue;
            const std::optional<sockaddr_un> a = unix_address(folder_ + "/" + name);
            if (!a)
                continue;
            const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0)
                continue;
            if (connect(fd, reinterpret_cast<const sockaddr*>(&*a), sizeof *a) != 0) {
                close(fd);  // a socket file nobody listens on any more: not a member
                continue;
            }
            members_[name].fd = fd;
        }
    }

    // Sends the held frame to the members that still owe it; true when none does.
    bool send_held()
    {
        bool done = true;
        for (auto it = members_.begin(); it != members_.end();) {
            member& m = it->second;
            if (m.owed && !m.stalled) {
                if (::send(m.fd, held_.data(), held_.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
                    m.owed = false;
                } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
                    done = false;
                } else {  // gone (ECONNREFUSED): the next rescan forgets its file
                    close(m.fd);
                    it = members_.erase(it);
                    continue;
                }
            } else if (m.owed) {
                m.owed = false;
                ++lost_;
            }
            ++it;
        }
        return done;
    }

    void receive()
    {
        std::byte frame[65536];
        for (;;) {
            const ssize_t n = recv(socket_, frame, sizeof frame, MSG_DONTWAIT);
            if (n < 0)
                return;
            port_.deliver(frame, size_t(n));
        }
    }

    // Until the quit eventfd is written; then what the guest sent before the end
    // still leaves, for up to drain_ms, as a NIC's queue empties at power-off.
    void run()
    {
        bool holding = false, quitting = false;
        int64_t held_since = 0, quit_by = 0;
        for (;;) {
            std::vector<pollfd> fds = {{quit_, short(quitting ? 0 : POLLIN), 0}, {socket_, POLLIN, 0},
                                       {notify_, POLLIN, 0}, {port_.outgoing_fd(), short(holding ? 0 : POLLIN), 0}};
            std::vector<member*> waited;
            for (auto& [name, m] : members_)
                if ((holding && m.owed) || m.stalled) {
                    fds.push_back({m.fd, POLLOUT, 0});
                    waited.push_back(&m);
                }
            int64_t timeout = -1;
            if (holding)
                timeout = std::max<int64_t>(0, held_since + stall_ms - now_ms());
            if (quitting)
                timeout = std::clamp<int64_t>(quit_by - now_ms(), 0, timeout < 0 ? drain_ms : timeout);
            if (poll(fds.data(), fds.size(), int(timeout)) < 0 && errno != EINTR)
                return;
            if (fds[0].revents) {
                uint64_t count;
                (void)!read(quit_, &count, sizeof count);
                quitting = true;
                quit_by = now_ms() + drain_ms;
            }
            if (fds[1].revents)
                receive();
            if (fds[2].revents) {
                char events[4096];
                while (read(notify_, events, sizeof events) > 0) {
                }
                rescan();
                if (holding && send_held())  // the members it waited for may have gone
                    holding = false;
                continue;  // `waited` may point at a member that went
            }
            for (size_t i = 0; i < waited.size(); ++i)
                if (fds[4 + i].revents)
                    waited[i]->stalled = false;
            if (holding && now_ms() >= held_since + stall_ms)
                for (auto& [name, m] : members_)
                    if (m.owed)
                        m.stalled = true;  // send_held counts the frame lost for it
            if (holding && send_held())
                holding = false;
            if (!holding && fds[3].revents) {
                uint64_t count;
                (void)!read(port_.outgoing_fd(), &count, sizeof count);
            }
            while (!holding && port_.take_outgoing(held_)) {
                for (auto& [name, m] : members_)
                    m.owed = true;
                if (!send_held()) {
                    holding = true;
                    held_since = now_ms();
                }
            }
            if (quitting && (!holding || now_ms() >= quit_by))
                return;
        }
    }

    std::string folder_, own_name_, own_path_;
    network_port& port_;
    int socket_ = -1, notify_ = -1, quit_ = -1;
    std::map<std::string, member> members_;
    std::vector<std::byte> held_;
    std::atomic<uint64_t> lost_{0};
    std::thread thread_;
};

}  // namespace

std::unique_ptr<network_backend> open_segment_backend(const std::string& folder, network_port& port)
{
    return std::make_unique<segment_backend>(folder, port);
}

}  // namespace hbvm
