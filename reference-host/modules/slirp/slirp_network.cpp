// hbvm-slirp.so: the `--net user` back end, libslirp's user-mode network — a
// NAT to the host's network with a DHCP server and a DNS forwarder, needing no
// privilege — as QEMU's `-netdev user` has it: the network 10.0.2.0/24 (net=
// another), the host at .2, DNS at .3, DHCP from .15; hostfwd= forwards host
// ports to the guest, also added and removed through the control socket.
//
// libslirp is not thread-safe: every call into it happens on the back end's one
// thread, which polls libslirp's sockets, its timers, the guest's outgoing
// frames (an eventfd of the interface) and the control socket's requests.
#include "devices/module.hpp"
#include "core/error.hpp"

#include <slirp/libslirp.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <poll.h>
#include <sstream>
#include <sys/eventfd.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

int64_t monotonic_ns()
{
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

bool parse_ipv4(const std::string& text, in_addr& out) { return inet_pton(AF_INET, text.c_str(), &out) == 1; }

// A forwarding rule as QEMU writes it: PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT
// (tcp::8080-:80, udp:127.0.0.1:5555-10.0.2.15:7); a removal names only
// PROTO:[HOSTADDR]:HOSTPORT.
struct forward {
    bool udp = false;
    in_addr host{}, guest{};
    int host_port = 0, guest_port = 0;
    std::string text;
};

int parse_port(const std::string& text)
{
    if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return -1;
    const int v = std::stoi(text);
    return v >= 1 && v <= 65535 ? v : -1;
}

// Throws std::invalid_argument saying what is wrong.
forward parse_forward(const std::string& text, bool with_guest, in_addr default_guest)
{
    const std::string form = with_guest ? "tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, e.g. tcp::8080-:80"
                                        : "tcp|udp:[HOSTADDR]:HOSTPORT, e.g. tcp::8080";
    forward f;
    f.text = text;
    const size_t colon = text.find(':');
    const std::string proto = text.substr(0, colon);
    if (colon == std::string::npos || (proto != "tcp" && proto != "udp"))
        throw std::invalid_argument("'" + text + "' is not a forwarding rule: " + form);
    f.udp = proto == "udp";
    const size_t dash = text.find('-', colon);
    const std::string host = text.substr(colon + 1, dash == std::string::npos ? std::string::npos : dash - colon - 1);
    const size_t host_colon = host.rfind(':');
    if (host_colon == std::string::npos || (dash == std::string::npos) == with_guest)
        throw std::invalid_argument("'" + text + "' is not a forwarding rule: " + form);
    const std::string host_addr = host.substr(0, host_colon);
    f.host.s_addr = htonl(INADDR_ANY);
    if (!host_addr.empty() && !parse_ipv4(host_addr, f.host))
        throw std::invalid_argument("'" + text + "': " + host_addr + " is not an IPv4 address");
    f.host_port = parse_port(host.substr(host_colon + 1));
    if (f.host_port < 0)
        throw std::invalid_argument("'" + text + "': the host port is not a number from 1 to 65535");
    if (!with_guest)
        return f;
    const std::string guest = text.substr(dash + 1);
    const size_t guest_colon = guest.rfind(':');
    if (guest_colon == std::string::npos)
        throw std::invalid_argument("'" + text + "' is not a forwarding rule: " + form);
    const std::string guest_addr = guest.substr(0, guest_colon);
    f.guest = default_guest;
    if (!guest_addr.empty() && !parse_ipv4(guest_addr, f.guest))
        throw std::invalid_argument("'" + text + "': " + guest_addr + " is not an IPv4 address");
    f.guest_port = parse_port(guest.substr(guest_colon + 1));
    if (f.guest_port < 0)
        throw std::invalid_argument("'" + text + "': the guest port is not a number from 1 to 65535");
    return f;
}

struct slirp_timer {
    SlirpTimerId id = SLIRP_TIMER_NUM;
    SlirpTimerCb callback = nullptr;  // the old interface (timer_new)
    void* callback_opaque = nullptr;
    int64_t expire_ms = -1;  // -1: not armed
};

class slirp_backend final : public hbvm::network_backend {
public:
    slirp_backend(const hbvm::device_settings& settings, hbvm::network_port& port) : port_(port)
    {
        where_ = settings.origin;
        // The network: net=A.B.C.D/N (default 10.0.2.0/24); host .2, DNS .3, DHCP from .15.
        const std::string net = settings.get("net").value_or("10.0.2.0/24");
        const size_t slash = net.find('/');
        in_addr network{};
        int prefix = slash == std::string::npos ? 24 : std::atoi(net.c_str() + slash + 1);
        // Up to /27: the DHCP pool is .15 to .30, below the broadcast address.
        if (!parse_ipv4(net.substr(0, slash), network) || prefix < 8 || prefix > 27)
            throw hbvm::error(hbvm::exit_status::usage, where_ + ": net=" + net +
                                                            " is not an IPv4 network from /8 to /27 (e.g. 10.0.2.0/24)");
        const uint32_t mask = ~((uint32_t(1) << (32 - prefix)) - 1);
        const uint32_t base = ntohl(network.s_addr) & mask;
        auto at = [base](uint32_t n) { in_addr a{}; a.s_addr = htonl(base | n); return a; };
        SlirpConfig config{};
        config.version = 4;
        config.restricted = 0;
        config.in_enabled = true;
        config.vnetwork.s_addr = htonl(base);
        config.vnetmask.s_addr = htonl(mask);
        config.vhost = at(2);
        config.vnameserver = at(3);
        config.vdhcp_start = at(15);
        config.in6_enabled = false;  // IPv6 is out of this version (spec 16.13 / README)
        config.vhostname = "hbvm-guest";
        config.if_mtu = port.max_frame() - 14;
        config.if_mru = port.max_frame() - 14;
        guest_ = at(15);

        callbacks_.send_packet = [](const void* buf, size_t len, void* opaque) -> ssize_t {
            static_cast<slirp_backend*>(opaque)->port_.deliver(static_cast<const std::byte*>(buf), len);
            return ssize_t(len);
        };
        callbacks_.guest_error = [](const char* msg, void* opaque) {
            auto* self = static_cast<slirp_backend*>(opaque);
            if (self->guest_errors_++ < 3)
                self->port_.note(self->where_ + ": the user network refused a frame of the guest: " + msg);
        };
        callbacks_.clock_get_ns = [](void*) -> int64_t { return monotonic_ns(); };
        callbacks_.timer_new = [](SlirpTimerCb cb, void* cb_opaque, void* opaque) -> void* {
            auto* self = static_cast<slirp_backend*>(opaque);
            self->timers_.push_back({SLIRP_TIMER_NUM, cb, cb_opaque, -1});
            return &self->timers_.back();
        };
        callbacks_.timer_new_opaque = [](SlirpTimerId id, void* cb_opaque, void* opaque) -> void* {
            auto* self = static_cast<slirp_backend*>(opaque);
            self->timers_.push_back({id, nullptr, cb_opaque, -1});
            return &self->timers_.back();
        };
        callbacks_.timer_free = [](void* timer, void* opaque) {
            auto* self = static_cast<slirp_backend*>(opaque);
            self->timers_.remove_if([timer](const slirp_timer& t) { return &t == timer; });
        };
        callbacks_.timer_mod = [](void* timer, int64_t expire_ms, void*) {
            static_cast<slirp_timer*>(timer)->expire_ms = expire_ms;
        };
        callbacks_.register_poll_fd = [](int, void*) {};
        callbacks_.unregister_poll_fd = [](int, void*) {};
        callbacks_.notify = [](void* opaque) {
            const uint64_t one = 1;
            (void)!write(static_cast<slirp_backend*>(opaque)->wake_, &one, sizeof one);
        };
        callbacks_.init_completed = [](Slirp*, void*) {};

        quit_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (quit_ < 0 || wake_ < 0)
            throw hbvm::error(hbvm::exit_status::host_failure, where_ + ": eventfd failed: " + std::strerror(errno));
        slirp_ = slirp_new(&config, &callbacks_, this);
        if (!slirp_)
            throw hbvm::error(hbvm::exit_status::host_failure, where_ + ": libslirp could not start the user network");
        // The forwards given at start: a port that cannot be had ends hbvm here.
        try {
            std::istringstream rules(settings.get("hostfwd").value_or(""));
            for (std::string rule; rules >> rule;) {
                forward f;
                try {
                    f = parse_forward(rule, true, guest_);
                } catch (const std::invalid_argument& e) {
                    throw hbvm::error(hbvm::exit_status::usage, where_ + ": hostfwd=" + e.what());
                }
                const std::string problem = add_forward(f);
                if (!problem.empty())
                    throw hbvm::error(hbvm::exit_status::host_failure, where_ + ": hostfwd=" + problem);
            }
        } catch (...) {
            slirp_cleanup(slirp_);
            close(quit_), close(wake_);
            throw;
        }
        thread_ = std::thread([this] { run(); });
    }

    ~slirp_backend() override
    {
        const uint64_t one = 1;
        (void)!write(quit_, &one, sizeof one);
        thread_.join();
        slirp_cleanup(slirp_);
        close(quit_), close(wake_);
    }

    std::vector<std::pair<std::string, hbvm::control_command>> control_commands() override
    {
        const std::string& n = port_.name();
        return {
            {n + "-hostfwd-add",
             {"forward a host port to the guest {\"rule\": \"tcp::8080-:80\"} (QEMU's hostfwd form)",
              [this](const hbvm::json::object& a) {
                  const forward f = rule_argument(a, true);
                  const std::string problem = on_thread([this, f] { return add_forward(f); });
                  if (!problem.empty())
                      throw hbvm::control_command_error{"GenericError", problem};
                  return hbvm::json::value(hbvm::json::object{{"added", f.text}});
              }}},
            {n + "-hostfwd-remove",
             {"stop forwarding a host port {\"rule\": \"tcp::8080\"}",
              [this](const hbvm::json::object& a) {
                  const forward f = rule_argument(a, false);
                  const std::string problem = on_thread([this, f] {
                      if (slirp_remove_hostfwd(slirp_, f.udp, f.host, f.host_port) != 0)
                          return std::string("no forward of ") + (f.udp ? "udp" : "tcp") + " port " +
                                 std::to_string(f.host_port);
                      std::lock_guard guard(lock_);
                      forwards_.erase(std::remove_if(forwards_.begin(), forwards_.end(),
                                                     [&](const forward& g) {
                                                         return g.udp == f.udp && g.host_port == f.host_port &&
                                                                g.host.s_addr == f.host.s_addr;
                                                     }),
                                      forwards_.end());
                      return std::string();
                  });
                  if (!problem.empty())
                      throw hbvm::control_command_error{"GenericError", problem};
                  return hbvm::json::value(hbvm::json::object{{"removed", f.text}});
              }}},
            {n + "-hostfwd-list",
             {"the host ports forwarded to the guest",
              [this](const hbvm::json::object&) {
                  hbvm::json::array list;
                  std::lock_guard guard(lock_);
                  for (const forward& f : forwards_)
                      list.emplace_back(f.text);
                  return hbvm::json::value(hbvm::json::object{{"forwards", list}});
              }}},
        };
    }

    std::string stats() const override
    {
        return "user network: " + std::to_string(guest_errors_.load()) + " frames of the guest refused";
    }

private:
    forward rule_argument(const hbvm::json::object& a, bool with_guest) const
    {
        const auto it = a.find("rule");
        const std::string* text = it == a.end() ? nullptr : it->second.as_string();
        if (!text)
            throw hbvm::control_command_error{"GenericError", with_guest ? "give \"rule\": \"tcp::8080-:80\""
                                                                         : "give \"rule\": \"tcp::8080\""};
        try {
            return parse_forward(*text, with_guest, guest_);
        } catch (const std::invalid_argument& e) {
            throw hbvm::control_command_error{"GenericError", e.what()};
        }
    }

    // On the back end's thread (or before it starts): "" or what went wrong.
    std::string add_forward(const forward& f)
    {
        if (slirp_add_hostfwd(slirp_, f.udp, f.host, f.host_port, f.guest, f.guest_port) != 0)
            return f.text + ": cannot take " + (f.udp ? "udp" : "tcp") + " port " + std::to_string(f.host_port) +
                   " on the host (in use, or below 1024 without the privilege)";
        std::lock_guard guard(lock_);
        forwards_.push_back(f);
        return {};
    }

    // Runs `work` on the back end's thread, where libslirp may be called, and
    // returns its answer (the control socket's thread waits up to 5 s).
    std::string on_thread(std::function<std::string()> work)
    {
        auto result = std::make_shared<std::pair<bool, std::string>>(false, std::string());
        {
            std::lock_guard guard(lock_);
            requests_.push_back([work, result, this] {
                std::string answer = work();
                std::lock_guard inner(lock_);
                *result = {true, answer};
                done_.notify_all();
            });
        }
        const uint64_t one = 1;
        (void)!write(wake_, &one, sizeof one);
        std::unique_lock guard(lock_);
        if (!done_.wait_for(guard, std::chrono::seconds(5), [&] { return result->first; }))
            return "the user network did not answer within 5 s";
        return result->second;
    }

    void run()
    {
        std::vector<std::byte> frame;
        for (;;) {
            fds_.assign({{quit_, POLLIN, 0}, {wake_, POLLIN, 0}, {port_.outgoing_fd(), POLLIN, 0}});
            uint32_t timeout = 1000;
            slirp_pollfds_fill(
                slirp_, &timeout,
                [](int fd, int events, void* opaque) {
                    auto* self = static_cast<slirp_backend*>(opaque);
                    short e = 0;
                    if (events & SLIRP_POLL_IN) e |= POLLIN;
                    if (events & SLIRP_POLL_OUT) e |= POLLOUT;
                    if (events & SLIRP_POLL_PRI) e |= POLLPRI;
                    self->fds_.push_back({fd, e, 0});
                    return int(self->fds_.size() - 1);
                },
                this);
            const int64_t now_ms = monotonic_ns() / 1000000;
            for (const slirp_timer& t : timers_)
                if (t.expire_ms >= 0)
                    timeout = uint32_t(std::clamp<int64_t>(t.expire_ms - now_ms, 0, timeout));
            const int ready = poll(fds_.data(), fds_.size(), int(timeout));
            if (ready < 0 && errno != EINTR)
                return;
            if (fds_[0].revents) {
                // What the guest sent before the end still leaves: libslirp takes
                // a frame at once (its sockets queue what they cannot send yet).
                while (port_.take_outgoing(frame))
                    slirp_input(slirp_, reinterpret_cast<const uint8_t*>(frame.data()), int(frame.size()));
                return;
            }
            slirp_pollfds_poll(
                slirp_, ready < 0,
                [](int index, void* opaque) {
                    const short r = static_cast<slirp_backend*>(opaque)->fds_[size_t(index)].revents;
                    int e = 0;
                    if (r & POLLIN) e |= SLIRP_POLL_IN;
                    if (r & POLLOUT) e |= SLIRP_POLL_OUT;
                    if (r & POLLPRI) e |= SLIRP_POLL_PRI;
                    if (r & POLLERR) e |= SLIRP_POLL_ERR;
                    if (r & POLLHUP) e |= SLIRP_POLL_HUP;
                    return e;
                },
                this);
            const int64_t after_ms = monotonic_ns() / 1000000;
            for (auto it = timers_.begin(); it != timers_.end();) {
                slirp_timer& t = *it++;  // a callback may free this timer: step first
                if (t.expire_ms < 0 || t.expire_ms > after_ms)
                    continue;
                t.expire_ms = -1;
                if (t.callback)
                    t.callback(t.callback_opaque);
                else
                    slirp_handle_timer(slirp_, t.id, t.callback_opaque);
            }
            uint64_t count;
            if (fds_[1].revents)
                (void)!read(wake_, &count, sizeof count);
            if (fds_[2].revents)
                (void)!read(port_.outgoing_fd(), &count, sizeof count);
            while (port_.take_outgoing(frame))
                slirp_input(slirp_, reinterpret_cast<const uint8_t*>(frame.data()), int(frame.size()));
            std::deque<std::function<void()>> requests;
            {
                std::lock_guard guard(lock_);
                requests.swap(requests_);
            }
            for (auto& r : requests)
                r();
        }
    }

    hbvm::network_port& port_;
    std::string where_;
    in_addr guest_{};
    SlirpCb callbacks_{};
    Slirp* slirp_ = nullptr;
    std::list<slirp_timer> timers_;  // a list: libslirp holds pointers to them
    std::vector<pollfd> fds_;
    int quit_ = -1, wake_ = -1;
    std::mutex lock_;  // guards requests_, forwards_ and the answers
    std::condition_variable done_;
    std::deque<std::function<void()>> requests_;
    std::vector<forward> forwards_;
    std::atomic<uint64_t> guest_errors_{0};
    std::thread thread_;
};

std::vector<std::unique_ptr<hbvm::device>> create(const std::string& device_class,
                                                  const std::vector<hbvm::device_settings>&, const hbvm::device_host&)
{
    throw std::logic_error("the slirp module makes no '" + device_class + "' devices: it is a network's back end");
}

std::unique_ptr<hbvm::network_backend> open_network(const hbvm::device_settings& settings,
                                                    hbvm::network_port& port)
{
    return std::make_unique<slirp_backend>(settings, port);
}

}  // namespace

HBVM_MODULE_ENTRY
{
    static const hbvm::module_entry entry{hbvm::module_interface_version, HBVM_VERSION_STRING, "slirp", &create,
                                          nullptr, &open_network};
    return &entry;
}
