// A command of the control socket, as the socket (control/control_socket.hpp)
// and the devices that add their own (devices/device.hpp: a screenshot, input
// to inject, a port to forward) both know it. Header-only: a back-end module
// adds commands without linking any of hbvm.
#ifndef HBVM_CONTROL_COMMAND_HPP
#define HBVM_CONTROL_COMMAND_HPP

#include "control/json.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace hbvm {

// What a command that cannot be done throws: QMP's error class and a text.
struct control_command_error {
    std::string error_class;  // "GenericError", "CommandNotFound", ...
    std::string description;
};

struct control_command {
    std::string help;  // one line, for query-commands and hbvm-ctl --help
    // Runs on the socket's thread — not the vCPU's: what it shares with the
    // machine it guards itself — with the command's "arguments" (an empty object
    // without); returns the reply's "return" value or throws control_command_error.
    std::function<json::value(const json::object& arguments)> run;
};

// The integer argument `key`, from `least` to `most`, or a control_command_error
// that says what to give.
inline int64_t integer_argument(const json::object& arguments, const char* key, int64_t least, int64_t most)
{
    const auto it = arguments.find(key);
    const double* v = it == arguments.end() ? nullptr : std::get_if<double>(&it->second.data);
    if (!v || *v != double(int64_t(*v)) || *v < double(least) || *v > double(most))
        throw control_command_error{"GenericError", std::string("give \"") + key + "\": an integer from " +
                                                        std::to_string(least) + " to " + std::to_string(most)};
    return int64_t(*v);
}

}  // namespace hbvm

#endif
