// The control socket (`hbvm run --control unix:PATH`): line-delimited JSON in
// QMP's manner. A client that connects gets a greeting line; it sends commands,
// one JSON object a line, `{"execute": "query-status", "id": 1}`, and gets a
// reply with the same id, `{"return": {...}, "id": 1}` or `{"error": {"class":
// ..., "desc": ...}, "id": 1}`; asynchronous events come as `{"event": "STOP",
// "timestamp": {...}, "data": {...}}`. The schema is in the README ("The
// control socket").
//
// The socket serves its clients on a thread of its own and never holds up the
// machine or its stop: a client that does not read loses its connection when
// a megabyte of replies and events waits for it; a line longer than 64 KiB, or
// one that is no JSON object, gets an error; at most 16 clients at a time.
#ifndef HBVM_CONTROL_CONTROL_SOCKET_HPP
#define HBVM_CONTROL_CONTROL_SOCKET_HPP

#include "control/command.hpp"
#include "control/json.hpp"

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hbvm {

class control_socket {
public:
    using command_error = control_command_error;
    using command = control_command;

    // Creates the socket at `address` ("unix:PATH"), mode 0600. Throws
    // hbvm::error (usage) for an address it cannot use, saying why: not unix:,
    // a path longer than a socket address holds (107 bytes), a file in the way,
    // a socket another process listens on.
    explicit control_socket(const std::string& address);
    // Closes every connection and removes the socket file.
    ~control_socket();
    control_socket(const control_socket&) = delete;
    control_socket& operator=(const control_socket&) = delete;

    // Adds a command; before start(). query-commands is built in. A name given
    // twice is a host bug (std::logic_error): two devices cannot share one.
    void add_command(const std::string& name, command c);

    // Serves clients on a thread of its own from now on.
    void start();

    // Stops serving: the events sent so far go out to the clients that read
    // them (within a short goodbye), then the thread ends; no command runs after
    // stop() returns. Idempotent; the destructor calls it too. hbvm calls it
    // before the machine whose commands the socket serves is destroyed.
    void stop();

    // Sends an event to every client (from any thread).
    void emit(const std::string& event, json::value data = json::object{});

    // The path of the socket file.
    const std::string& path() const { return path_; }

private:
    struct client {
        int fd;
        std::string in, out;
        bool discarding = false;  // inside a line too long to keep: skip to its end
    };

    void loop();
    void serve_line(client& c, const std::string& line);
    void queue(client& c, const json::value& v);
    void accept_clients();
    bool read_from(client& c);   // false: the client is gone
    bool write_to(client& c);    // false: the client is gone or too slow

    std::string path_;
    int listen_fd_ = -1;
    int wake_fd_ = -1;  // emit() and the destructor wake the thread
    std::map<std::string, command> commands_;
    std::mutex mutex_;             // guards pending_events_ and quit_
    std::vector<std::string> pending_events_;
    bool quit_ = false;
    std::vector<client> clients_;  // the thread's own
    std::thread thread_;
};

}  // namespace hbvm

#endif
