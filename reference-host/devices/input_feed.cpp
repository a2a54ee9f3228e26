#include "devices/input_feed.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace hbvm {

input_feed::input_feed(const std::string& path) : path_(path)
{
    // Non-blocking: opening a FIFO for reading does not wait for its writer.
    fd_ = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0)
        throw error(exit_status::usage, "--input-feed " + path + ": cannot open it (" + std::strerror(errno) + ")");
}

input_feed::~input_feed()
{
    if (fd_ >= 0)
        close(fd_);
}

namespace {

std::vector<std::unique_ptr<device>> create_feeds(const std::vector<device_settings>& all, const device_host&)
{
    std::vector<std::unique_ptr<device>> made;
    for (const device_settings& s : all)
        made.push_back(std::make_unique<input_feed>(s.get("path").value_or("")));
    return made;
}

}  // namespace

device_class input_feed_device_class()
{
    return {"input-feed",
            "  --input-feed PATH\n"
            "                  a FIFO or file of 16-byte input records (u16 device, type,\n"
            "                  code, reserved; i32 value; u32 unicode, little-endian) that\n"
            "                  INP queues on its devices as they arrive\n",
            "path",
            {"path"},
            {},
            1,
            false,
            nullptr,
            create_feeds};
}

}  // namespace hbvm
