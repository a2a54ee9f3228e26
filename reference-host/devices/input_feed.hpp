// An input feed: a file or FIFO of input records that the INP service reads
// into its input devices while the machine runs — how a conformance driver (its
// {input} place) or a script types and points without a window. Each record is
// 16 bytes, little-endian: u16 device (an INP device number), u16 type, u16
// code, u16 reserved (0), i32 value, u32 unicode — an inp_event without its
// timestamp and modifiers, which the host adds when it queues the event.
#ifndef HBVM_DEVICES_INPUT_FEED_HPP
#define HBVM_DEVICES_INPUT_FEED_HPP

#include "devices/device.hpp"

#include <string>

namespace hbvm {

class input_feed : public device {
public:
    explicit input_feed(const std::string& path);
    ~input_feed() override;
    input_feed(const input_feed&) = delete;
    input_feed& operator=(const input_feed&) = delete;

    int fd() const { return fd_; }
    const std::string& path() const { return path_; }

    static constexpr size_t record_size = 16;

private:
    std::string path_;
    int fd_ = -1;
};

// The class entry: --input-feed PATH (a FIFO or a file of records).
device_class input_feed_device_class();

}  // namespace hbvm

#endif
