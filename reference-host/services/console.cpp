// CONSOLE: bytes to and from the user's terminal.
#include "services/services.hpp"

#include "devices/terminal.hpp"

namespace hbvm {

void register_console_service(dispatcher& d, terminal& term)
{
    using fn = abi::function;
    d.add(fn::console_write, [&term](const call& c) {
        std::span<const std::byte> bytes = c.in_buffer(0);
        return term.write(bytes) ? succeed(bytes.size()) : fail(abi::status::io_error);
    });
    d.add(fn::console_read, [&term](const call& c) {
        long n = term.read_available(c.out_buffer(0));
        return n < 0 ? fail(abi::status::io_error) : succeed(uint64_t(n));
    });
}

}  // namespace hbvm
