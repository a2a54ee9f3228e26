// hbvm-ctl: the client of hbvm's control socket (hbvm run --control unix:PATH).
// It sends one command, prints the reply's "return" value as one line of JSON,
// and exits 0; an error reply goes to stderr with exit status 1; a socket it
// cannot talk to, status 2. The protocol is line-delimited JSON in QMP's
// manner (control/control_socket.hpp; README, "The control socket").
#include "control/json.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

using namespace hbvm;

const char usage_text[] =
    "hbvm-ctl " HBVM_VERSION_STRING " - talk to a running hbvm through its control socket\n"
    "\n"
    "Usage:\n"
    "  hbvm-ctl [options] unix:PATH COMMAND [ARGUMENTS]\n"
    "  hbvm-ctl --help | --version\n"
    "\n"
    "Connects to the control socket an hbvm serves (hbvm run --control unix:PATH),\n"
    "sends COMMAND with ARGUMENTS (a JSON object, default {}), prints the reply's\n"
    "value as one line of JSON and exits. COMMAND is one of hbvm's commands:\n"
    "query-status (whether the guest runs or is paused), stop (pause it), cont (let\n"
    "it go on), quit (end the run), query-commands (list them).\n"
    "\n"
    "Options:\n"
    "  --wait-event NAME\n"
    "                  after the reply, wait for the event NAME (STOP, RESUME,\n"
    "                  END) and print it too: 'stop --wait-event STOP' returns once\n"
    "                  the guest is paused\n"
    "  --timeout S     give up after S seconds, a decimal number (default 10)\n"
    "  -h, --help      show this text\n"
    "  --version       print hbvm-ctl's version\n"
    "\n"
    "Exit status: 0 the command was done; 1 hbvm answered with an error (its class\n"
    "and text on stderr); 2 bad usage, or no hbvm to talk to, or no answer in\n"
    "time.\n";

[[noreturn]] void fail(int status, const std::string& message)
{
    std::fprintf(stderr, "hbvm-ctl: %s\n", message.c_str());
    std::exit(status);
}

class connection {
public:
    connection(const std::string& address, std::chrono::steady_clock::time_point deadline) : deadline_(deadline)
    {
        if (address.rfind("unix:", 0) != 0)
            fail(2, address + ": expected unix:PATH (the path given to hbvm run --control)");
        const std::string path = address.substr(5);
        sockaddr_un where{};
        if (path.empty() || path.size() >= sizeof where.sun_path)
            fail(2, address + ": not a socket path");
        std::memcpy(where.sun_path, path.c_str(), path.size() + 1);
        where.sun_family = AF_UNIX;
        fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&where), sizeof where) != 0)
            fail(2, address + ": cannot connect (" + std::strerror(errno) + "); is hbvm running with --control " +
                        address + "?");
    }
    ~connection() { close(fd_); }

    void send_line(const std::string& line)
    {
        const std::string text = line + "\n";
        for (size_t done = 0; done < text.size();) {
            const ssize_t n = send(fd_, text.data() + done, text.size() - done, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                fail(2, std::string("the connection broke: ") + std::strerror(errno));
            done += size_t(n);
        }
    }

    // The next line, or nullopt when hbvm closed the connection.
    std::optional<std::string> read_line()
    {
        for (;;) {
            const size_t newline = buffer_.find('\n');
            if (newline != std::string::npos) {
                std::string line = buffer_.substr(0, newline);
                buffer_.erase(0, newline + 1);
                return line;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                fail(2, "no answer in time (--timeout)");
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, int(left.count())) <= 0)
                continue;
            char chunk[4096];
            const ssize_t n = read(fd_, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return std::nullopt;
            buffer_.append(chunk, size_t(n));
        }
    }

private:
    int fd_ = -1;
    std::string buffer_;
    std::chrono::steady_clock::time_point deadline_;
};

}  // namespace

int main(int argc, char** argv)
{
    std::string address, command, arguments = "{}", wait_event;
    double timeout = 10;
    std::vector<std::string> words;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                fail(2, a + " needs a value");
            return argv[++i];
        };
        if (a == "-h" || a == "--help") {
            std::fputs(usage_text, stdout);
            return 0;
        } else if (a == "--version") {
            std::printf("hbvm-ctl %s\n", HBVM_VERSION_STRING);
            return 0;
        } else if (a == "--wait-event") {
            wait_event = value();
        } else if (a == "--timeout") {
            char* end = nullptr;
            const std::string text = value();
            timeout = std::strtod(text.c_str(), &end);
            if (text.empty() || *end || !(timeout > 0))
                fail(2, "--timeout " + text + ": expected a number of seconds, e.g. 10");
        } else if (a.size() > 1 && a[0] == '-') {
            fail(2, "unknown option " + a + " (run 'hbvm-ctl --help' for the options)");
        } else {
            words.push_back(a);
        }
    }
    if (words.size() < 2 || words.size() > 3)
        fail(2, "expected unix:PATH COMMAND [ARGUMENTS] (run 'hbvm-ctl --help')");
    address = words[0];
    command = words[1];
    if (words.size() == 3)
        arguments = words[2];
    std::string why;
    const std::optional<json::value> parsed_arguments = json::parse(arguments, why);
    if (!parsed_arguments || !parsed_arguments->as_object())
        fail(2, "ARGUMENTS must be a JSON object, e.g. '{}'" + (why.empty() ? std::string() : ": " + why));

    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout));
    connection c(address, deadline);
    const std::optional<std::string> greeting = c.read_line();
    if (!greeting)
        fail(2, "hbvm closed the connection before its greeting");
    {
        // A refusal comes instead of the greeting (too many clients): say it.
        const std::optional<json::value> first = json::parse(*greeting, why);
        const json::object* o = first ? first->as_object() : nullptr;
        const json::object* e = o && o->count("error") ? o->at("error").as_object() : nullptr;
        const std::string* desc = e && e->count("desc") ? e->at("desc").as_string() : nullptr;
        if (e)
            fail(2, "hbvm refused the connection: " + (desc ? *desc : greeting->substr(0, 200)));
    }
    c.send_line(json::write(json::object{{"execute", command}, {"arguments", *parsed_arguments}, {"id", "hbvm-ctl"}}));
    bool replied = false, waited = wait_event.empty();
    int status = 0;
    while (!replied || !waited) {
        const std::optional<std::string> line = c.read_line();
        if (!line) {
            if (replied && wait_event == "END")
                break;  // the run ended as asked, and the connection with it
            fail(2, replied ? "hbvm closed the connection before the event " + wait_event
                            : "hbvm closed the connection before its reply");
        }
        const std::optional<json::value> message = json::parse(*line, why);
        const json::object* o = message ? message->as_object() : nullptr;
        if (!o)
            fail(2, "hbvm sent a line that is no JSON object: " + line->substr(0, 200));
        if (o->count("event")) {
            const std::string* name = o->at("event").as_string();
            if (!waited && name && *name == wait_event) {
                std::printf("%s\n", line->c_str());
                waited = true;
            }
            continue;
        }
        if (!o->count("id") || !o->at("id").as_string() || *o->at("id").as_string() != "hbvm-ctl")
            continue;
        replied = true;
        if (o->count("return")) {
            std::printf("%s\n", json::write(o->at("return")).c_str());
        } else {
            const json::object* e = o->count("error") ? o->at("error").as_object() : nullptr;
            const std::string* cls = e && e->count("class") ? e->at("class").as_string() : nullptr;
            const std::string* desc = e && e->count("desc") ? e->at("desc").as_string() : nullptr;
            std::fprintf(stderr, "hbvm-ctl: %s: %s\n", cls ? cls->c_str() : "error", desc ? desc->c_str() : line->c_str());
            status = 1;
            waited = true;
        }
        std::fflush(stdout);
    }
    return status;
}
