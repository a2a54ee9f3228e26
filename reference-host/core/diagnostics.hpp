// hbvm's own lines on stderr ("hbvm: ..."). Every run ends with one that says
// how it ended; see the README's exit statuses.
#ifndef HBVM_CORE_DIAGNOSTICS_HPP
#define HBVM_CORE_DIAGNOSTICS_HPP

#include <string_view>

namespace hbvm::diagnostics {

// Writes "hbvm: " + text + "\n" to stderr in one write where it fits. On a stalled
// stderr this blocks like any host output, but a write held up 50 ms or more
// after a stop request is given up, so that a stalled stderr cannot keep hbvm
// from ending.
void line(std::string_view text);

}  // namespace hbvm::diagnostics

#endif
