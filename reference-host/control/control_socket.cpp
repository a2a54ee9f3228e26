#include "control/control_socket.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace hbvm {

namespace {

constexpr size_t max_line = 64 << 10;       // a longer command line is refused
constexpr size_t max_backlog = 1 << 20;     // replies and events waiting for a client that does not read
constexpr size_t max_clients = 16;
constexpr size_t read_chunk = 64 << 10;     // what one client may send per round, so none starves another
constexpr auto goodbye_time = std::chrono::milliseconds(20);  // the last events get this long to leave

[[noreturn]] void bad(const std::string& address, const std::string& why)
{
    throw error(exit_status::usage, "--control " + address + ": " + why);
}

json::value timestamp()
{
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
    return json::object{{"seconds", uint64_t(us / 1000000)}, {"microseconds", uint64_t(us % 1000000)}};
}

json::value error_reply(const std::string& error_class, const std::string& description, const json::value* id)
{
    json::object reply{{"error", json::object{{"class", error_class}, {"desc", description}}}};
    if (id)
        reply["id"] = *id;
    return reply;
}

}  // namespace

control_socket::control_socket(const std::string& address)
{
    if (address.rfind("unix:", 0) != 0)
        bad(address, "expected unix:PATH, e.g. --control unix:/tmp/vm.sock");
    path_ = address.substr(5);
    sockaddr_un where{};
    if (path_.empty())
        bad(address, "which path? e.g. --control unix:/tmp/vm.sock");
    if (path_.size() >= sizeof where.sun_path)
        bad(address, "the path is " + std::to_string(path_.size()) + " bytes; a Unix socket's path holds at most " +
                         std::to_string(sizeof where.sun_path - 1) + ": choose a shorter one");
    std::memcpy(where.sun_path, path_.c_str(), path_.size() + 1);
    where.sun_family = AF_UNIX;
    struct stat st {};
    if (lstat(path_.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            bad(address, "a file that is no socket is in the way; remove it or choose another path");
        // A socket left by a host that ended without removing it: nobody answers.
        const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const bool answered = probe >= 0 && connect(probe, reinterpret_cast<sockaddr*>(&where), sizeof where) == 0;
        if (probe >= 0)
            close(probe);
        if (answered)
            bad(address, "another process listens there (another hbvm?); choose another path");
        unlink(path_.c_str());
    }
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0)
        bad(address, std::string("cannot create a socket: ") + std::strerror(errno));
    // Mode 0600 from the start: the socket file never exists with wider rights.
    const mode_t old_mask = umask(0177);
    const int bound = bind(listen_fd_, reinterpret_cast<sockaddr*>(&where), sizeof where);
    const int bind_errno = errno;
    umask(old_mask);
    if (bound != 0 || listen(listen_fd_, 8) != 0) {
        close(listen_fd_);
        bad(address, std::string("cannot listen there: ") + std::strerror(bound != 0 ? bind_errno : errno));
    }
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        close(listen_fd_);
        unlink(path_.c_str());
        throw error(exit_status::host_failure, std::string("eventfd for the control socket: ") + std::strerror(errno));
    }
    commands_["query-commands"] = {"the commands this socket takes, with a line of help each",
                                   [this](const json::object&) {
                                       json::array list;
                                       for (const auto& [name, c] : commands_)
                                           list.push_back(json::object{{"name", name}, {"help", c.help}});
                                       return json::value(list);
                                   }};
}

void control_socket::stop()
{
    {
        std::lock_guard lock(mutex_);
        quit_ = true;
    }
    const uint64_t one = 1;
    while (write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
    if (thread_.joinable())
        thread_.join();
}

control_socket::~control_socket()
{
    stop();
    for (const client& c : clients_)
        close(c.fd);
    close(listen_fd_);
    close(wake_fd_);
    unlink(path_.c_str());
}

void control_socket::add_command(const std::string& name, command c)
{
    if (!commands_.emplace(name, std::move(c)).second)  // query-commands is there from the start
        throw std::logic_error("the control command '" + name + "' is added twice: two devices, or a device and "
                               "hbvm, chose the same name (a device puts its own name into its commands)");
}

void control_socket::start()
{
    thread_ = std::thread([this] { loop(); });
}

void control_socket::emit(const std::string& event, json::value data)
{
    const std::string line =
        json::write(json::object{{"event", event}, {"timestamp", timestamp()}, {"data", std::move(data)}}) + "\n";
    {
        std::lock_guard lock(mutex_);
        pending_events_.push_back(line);
    }
    const uint64_t one = 1;
    while (write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void control_socket::queue(client& c, const json::value& v) { c.out += json::write(v) + "\n"; }

void control_socket::accept_clients()
{
    for (;;) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        client c{fd, {}, {}, false};
        if (clients_.size() >= max_clients) {
            queue(c, error_reply("GenericError", "too many clients: at most 16 at a time", nullptr));
            (void)write(fd, c.out.data(), c.out.size());
            close(fd);
            continue;
        }
        json::array names;
        for (const auto& [name, command] : commands_)
            names.push_back(name);
        queue(c, json::object{{"hbvm", json::object{{"version", HBVM_VERSION_STRING}, {"commands", names}}}});
        clients_.push_back(std::move(c));
    }
}

void control_socket::serve_line(client& c, const std::string& line)
{
    if (line.find_first_not_of(" \t\r") == std::string::npos)
        return;  // an empty line: nothing asked
    std::string why;
    const std::optional<json::value> request = json::parse(line, why);
    if (!request) {
        queue(c, error_reply("GenericError", "not JSON: " + why, nullptr));
        return;
    }
    const json::object* o = request->as_object();
    const json::value* id = nullptr;
    if (o && o->count("id"))
        id = &o->at("id");
    const std::string* name = o && o->count("execute") ? o->at("execute").as_string() : nullptr;
    if (!name) {
        queue(c, error_reply("GenericError", "expected an object with \"execute\": a command's name", id));
        return;
    }
    const auto found = commands_.find(*name);
    if (found == commands_.end()) {
        queue(c, error_reply("CommandNotFound", "no command '" + *name + "'; query-commands lists them", id));
        return;
    }
    const json::object none;
    const json::object* arguments = &none;
    if (o->count("arguments")) {
        arguments = o->at("arguments").as_object();
        if (!arguments) {
            queue(c, error_reply("GenericError", "\"arguments\" is an object", id));
            return;
        }
    }
    try {
        json::object reply{{"return", found->second.run(*arguments)}};
        if (id)
            reply["id"] = *id;
        queue(c, reply);
    } catch (const command_error& e) {
        queue(c, error_reply(e.error_class, e.description, id));
    } catch (const std::exception& e) {
        // A command of a device or module that failed in another way: the client
        // hears it, and the socket's thread (and hbvm) goes on.
        queue(c, error_reply("GenericError", std::string("the command failed: ") + e.what(), id));
    }
}

bool control_socket::read_from(client& c)
{
    char buffer[4096];
    size_t taken = 0;
    while (taken < read_chunk) {
        const ssize_t n = read(c.fd, buffer, sizeof buffer);
        if (n == 0)
            return false;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        taken += size_t(n);
        for (ssize_t i = 0; i < n; ++i) {
            if (buffer[i] != '\n') {
                if (!c.discarding)
                    c.in += buffer[i];
                if (c.in.size() > max_line) {
                    queue(c, error_reply("GenericError", "a line longer than 64 KiB; it is skipped", nullptr));
                    c.in.clear();
                    c.discarding = true;
                }
                continue;
            }
            if (!c.discarding)
                serve_line(c, c.in);
            c.in.clear();
            c.discarding = false;
        }
        if (c.out.size() > max_backlog)
            return false;
    }
    return true;
}

bool control_socket::write_to(client& c)
{
    while (!c.out.empty()) {
        const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        c.out.erase(0, size_t(n));
    }
    return true;
}

void control_socket::loop()
{
    for (;;) {
        bool quit;
        std::vector<std::string> events;
        {
            std::lock_guard lock(mutex_);
            quit = quit_;
            events.swap(pending_events_);
        }
        for (client& c : clients_)
            for (const std::string& e : events)
                c.out += e;
        // A client that lets a megabyte pile up does not read: it is dropped,
        // so that no client can make the host hold on to memory without end.
        std::erase_if(clients_, [](client& c) {
            const bool keep = c.out.size() <= max_backlog;
            if (!keep)
                close(c.fd);
            return !keep;
        });
        if (quit)
            break;
        std::vector<pollfd> fds{{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
        for (const client& c : clients_)
            fds.push_back({c.fd, short(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
        if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR)
            break;
        if (fds[0].revents) {
            uint64_t count;
            (void)read(wake_fd_, &count, sizeof count);
        }
        if (fds[1].revents)
            accept_clients();
        std::vector<client> kept;
        for (size_t i = 0; i < clients_.size(); ++i) {
            client& c = clients_[i];
            const short revents = i + 2 < fds.size() && fds[i + 2].fd == c.fd ? fds[i + 2].revents : 0;
            bool alive = true;
            if (revents & (POLLIN | POLLHUP | POLLERR))
                alive = read_from(c);
            if (alive)
                alive = write_to(c);
            if (alive && c.out.size() <= max_backlog) {
                kept.push_back(std::move(c));
            } else {
                close(c.fd);
            }
        }
        clients_.swap(kept);
    }
    // The last events (the machine's end) leave if the clients take them within
    // goodbye_time; a client that does not read holds up nothing.
    const auto until = std::chrono::steady_clock::now() + goodbye_time;
    for (client& c : clients_) {
        while (!c.out.empty() && std::chrono::steady_clock::now() < until) {
            pollfd p{c.fd, POLLOUT, 0};
            if (poll(&p, 1, 5) > 0 && !write_to(c))
                break;
        }
    }
}

}  // namespace hbvm
