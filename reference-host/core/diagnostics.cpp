#include "core/diagnostics.hpp"

#include "core/host_io.hpp"

#include <string>
#include <unistd.h>

namespace hbvm::diagnostics {

void line(std::string_view text)
{
    std::string out;
    out.reserve(text.size() + 7);
    out.append("hbvm: ").append(text).append("\n");
    host_io::write_all(STDERR_FILENO, std::as_bytes(std::span(out.data(), out.size())), std::chrono::milliseconds(50));
}

}  // namespace hbvm::diagnostics
