#include "core/run_end.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace hbvm {

std::string end_report_line(const run_end& end)
{
    if (end.kind == end_kind::shutdown)
        return "shutdown " + std::to_string(end.status);
    static const char* const words[] = {"shutdown", "halted", "crashed", "stopped", "failed"};
    // The first line of the message: a register dump may follow it.
    std::string text = end.message.substr(0, end.message.find('\n'));
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20)
            c = ' ';
    return std::string(words[int(end.kind)]) + " " + (text.empty() ? "(no detail)" : text);
}

std::string write_end_report(const std::string& path, const run_end& end)
{
    const std::string line = end_report_line(end) + "\n";
    const std::string partial = path + ".partial";
    const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return "cannot create " + partial + ": " + std::strerror(errno);
    size_t done = 0;
    while (done < line.size()) {
        const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            const std::string why = std::strerror(errno);
            ::close(fd);
            ::unlink(partial.c_str());
            return "cannot write " + partial + ": " + why;
        }
        done += size_t(n);
    }
    ::close(fd);
    if (std::rename(partial.c_str(), path.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        ::unlink(partial.c_str());
        return "cannot rename " + partial + " to " + path + ": " + why;
    }
    return "";
}

}  // namespace hbvm
