// How a run of the machine ended (spec 8.5): a shutdown with the guest's exit
// code, or one of the ends the guest did not ask for. The exit status alone
// cannot tell them apart (a guest may shut down with 71 as well as halt), so
// hbvm also writes the end as one line to the file of --end-report, in the
// form the spec recommends and the conformance driver reads from its {end}:
//     shutdown CODE
//     halted|crashed|stopped|failed TEXT
#ifndef HBVM_CORE_RUN_END_HPP
#define HBVM_CORE_RUN_END_HPP

#include <string>

namespace hbvm {

enum class end_kind {
    shutdown,  // the guest asked: POWER.shutdown, or the debug-exit port
    halted,    // a HLT or EVT.wait that nothing could end
    crashed,   // the guest did what no machine survives
    stopped,   // the user stopped it: --timeout, a signal
    failed,    // hbvm itself failed, or could not start the machine
};

struct run_end {
    int status = 0;           // hbvm's exit status
    end_kind kind = end_kind::failed;
    std::string message;      // the closing "hbvm:" line (may hold a register dump after a newline)
};

// The end report's line, without its newline: "shutdown 3", "halted the guest halted ...".
std::string end_report_line(const run_end& end);

// Writes the line to `path` (created or replaced whole, so that a reader never
// sees half of it). Returns an error message, or "" when it was written.
std::string write_end_report(const std::string& path, const run_end& end);

}  // namespace hbvm

#endif
