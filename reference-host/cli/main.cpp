// hbvm: the HyperBIOS reference host's command line.
#include "core/diagnostics.hpp"
#include "core/error.hpp"
#include "core/guest_memory.hpp"
#include "vm/machine.hpp"
#include "core/stop.hpp"
#include "core/watchdog.hpp"

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <set>
#include <string_view>
#include <vector>

namespace {

using namespace hbvm;

// --help: the text before and after the device classes' option blocks, which
// the device registry gives (devices/registry.cpp).
const char usage_head[] =
    "hbvm " HBVM_VERSION_STRING " - the HyperBIOS reference host\n"
    "\n"
    "Usage:\n"
    "  hbvm run IMAGE [options] [-- KERNEL-ARGUMENTS...]\n"
    "  hbvm --list-faults\n"
    "  hbvm --help | --version\n"
    "\n"
    "Boots a Multiboot (v1) kernel image (ELF32, or ELF64 whose Multiboot header has\n"
    "the address fields) and serves the HyperBIOS calls it makes: console, clocks,\n"
    "power, disks (--disk), the memory map, random bytes, timers, events and\n"
    "interrupts. The kernel's command line is IMAGE followed by KERNEL-ARGUMENTS.\n"
    "IMAGE is a file, or a pipe, FIFO or device (read up to --mem bytes, at most\n"
    "3G: images load below the hole), e.g. /dev/stdin.\n"
    "\n"
    "Commands:\n"
    "  run IMAGE       boot IMAGE with the options below\n"
    "  --list-faults   name the faults --inject-fault can break the host with, one a\n"
    "                  line, with what each breaks\n"
    "  -h, --help      show this text\n"
    "  --version       print hbvm's version and the spec version it implements\n"
    "\n"
    "Options of run:\n"
    "  --mem SIZE      guest RAM: bytes, or with a K, M or G suffix, a multiple of\n"
    "                  4K from 2M to 64G (default 128M). Up to 3G it lies from\n"
    "                  address 0; above 3G the rest lies from 4 GiB up, leaving a\n"
    "                  hole with no RAM from 3 to 4 GiB, as on a PC (the memory\n"
    "                  map shows it). Host memory is used only for the pages the\n"
    "                  guest touches\n"
    "  --accel MODE    auto, kvm or soft (default auto: KVM where /dev/kvm can be\n"
    "                  used, the software engine otherwise)\n"
    "  --timeout S     stop the guest after S seconds, a decimal number such as 10\n"
    "                  or 0.5, at most 31536000 (a year); default or 0: no limit\n"
    "  --trace         log every HyperBIOS call and unclaimed port access to stderr\n"
    "  --stats         at the end, print the number of calls, exits and KVM ioctls\n"
    "  --end-report FILE\n"
    "                  when the run ends, write how it ended to FILE, one line (spec\n"
    "                  8.5): 'shutdown CODE' when the guest shut down, else 'halted',\n"
    "                  'crashed', 'stopped' or 'failed' and the reason, so that a\n"
    "                  shutdown with any code is told apart from every other end\n"
    ;
const char usage_tail[] =
    "  --profile NAME  what the host offers: full (every service, the default),\n"
    "                  no-reboot (POWER.reboot is refused with DENIED) or minimal\n"
    "                  (BASE, CONSOLE, TIME and POWER only)\n"
    "  --inject-fault NAME\n"
    "                  break the host on purpose in one documented way, to check\n"
    "                  that a conformance suite notices; --list-faults names them\n"
    "  -h, --help      show this text\n"
    "\n"
    "Guest ports: 0xE9 writes go to stderr (debug console); a write of V to 0xF4\n"
    "ends the run with exit status (V << 1) | 1, as QEMU's isa-debug-exit does.\n"
    "\n"
    "Exit status: the guest's POWER.shutdown code; otherwise 64 bad usage, 65 bad\n"
    "image, 66 bad --disk (missing, unreadable, wrongly sized or in use), 70 guest\n"
    "crashed, 71 guest halted for good, 74 host failure, 124\n"
    "--timeout expired, 130 Ctrl-C (SIGINT), 128+N another signal N that ends a\n"
    "process (SIGTERM 143, SIGHUP 129). The last \"hbvm:\" line on stderr says\n"
    "which, and --end-report writes it to a file. --timeout, SIGINT and SIGTERM\n"
    "stop hbvm within 100 ms whatever the guest does, even when its console\n"
    "output is stalled; SIGUSR1 and SIGUSR2 are ignored, and SIGPIPE too: a\n"
    "closed console gives the guest IO_ERROR instead.\n";

std::string usage_text()
{
    std::string text = usage_head;
    for (const device_class& cls : device_registry())
        text += cls.help;
    return text + usage_tail;
}

// One line, so that the last line on stderr says what was wrong.
[[noreturn]] void usage_error(const std::string& message)
{
    throw error(exit_status::usage, message + " (run 'hbvm --help' for the options)");
}

uint64_t parse_size(const std::string& text)
{
    errno = 0;
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
    uint64_t scale = 1;
    std::string_view suffix(end);
    if (suffix == "K" || suffix == "k")
        scale = 1ull << 10;
    else if (suffix == "M" || suffix == "m")
        scale = 1ull << 20;
    else if (suffix == "G" || suffix == "g")
        scale = 1ull << 30;
    else if (!suffix.empty())
        usage_error("--mem " + text + ": expected a number with an optional K, M or G suffix, e.g. 256M");
    if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])) || errno == ERANGE)
        usage_error("--mem " + text + ": expected a number with an optional K, M or G suffix, e.g. 256M");
    const uint64_t bytes = value * scale;
    // RAM above 3 GiB lies from 4 GiB on (core/guest_memory.hpp, ram_layout); the
    // limit keeps the host's own tables for guest RAM small (accel/soft.cpp).
    if (value > ram_layout::max_size / scale || bytes < ram_layout::min_size || bytes > ram_layout::max_size)
        usage_error("--mem " + text + ": guest RAM must be between 2M and 64G");
    if (bytes % 4096 != 0)
        usage_error("--mem " + text + ": guest RAM must be a multiple of 4K");
    return bytes;
}

// A decimal number of seconds: digits, optionally a point and more digits. No
// signs, spaces, exponents or hexadecimal, which strtod would accept.
double parse_seconds(const std::string& text)
{
    constexpr double max_seconds = 365.0 * 24 * 3600;
    const size_t point = text.find('.');
    const std::string whole = text.substr(0, point);
    const std::string fraction = point == std::string::npos ? "" : text.substr(point + 1);
    auto digits = [](const std::string& t) {
        return !t.empty() && t.find_first_not_of("0123456789") == std::string::npos;
    };
    const bool well_formed = digits(whole) && (point == std::string::npos || digits(fraction));
    const double value = well_formed ? std::strtod(text.c_str(), nullptr) : -1;
    if (!well_formed || !std::isfinite(value))
        usage_error("--timeout " + text + ": expected a number of seconds, e.g. 10 or 0.5");
    if (value > max_seconds)
        usage_error("--timeout " + text + ": at most 31536000 seconds (a year)");
    return value;
}

// Where --end-report writes, once the options are read ("" without it): every
// end from then on is reported there, a failure to start the machine too.
std::string end_report_path;

void report_end(const run_end& end)
{
    if (end_report_path.empty())
        return;
    const std::string problem = write_end_report(end_report_path, end);
    if (!problem.empty())
        diagnostics::line("--end-report: " + problem);
}

int run_command(const std::vector<std::string>& args, std::chrono::steady_clock::time_point started,
                unsigned reopened_fds)
{
    machine_config config;
    config.started = started;
    config.reopened_fds = reopened_fds;
    std::vector<std::string> kernel_args;
    bool have_image = false;
    std::set<std::string> seen;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        // A device option (--disk) is given once per device; every other once.
        const device_class* device_option =
            a.rfind("--", 0) == 0 ? find_device_class(device_registry(), a.substr(2)) : nullptr;
        if (device_option && device_option->keys.empty())
            device_option = nullptr;  // a class without settings has no option
        if (a.size() > 1 && a[0] == '-' && a != "--" && !device_option && !seen.insert(a).second)
            usage_error(a + " is given twice; give each option once");
        auto value = [&](const char* option) -> const std::string& {
            if (i + 1 >= args.size())
                usage_error(std::string(option) + " needs a value");
            return args[++i];
        };
        if (a == "-h" || a == "--help") {
            std::fputs(usage_text().c_str(), stdout);
            return 0;
        } else if (a == "--") {
            kernel_args.assign(args.begin() + long(i) + 1, args.end());
            break;
        } else if (a == "--mem") {
            config.memory_size = parse_size(value("--mem"));
        } else if (a == "--accel") {
            const std::string& name = value("--accel");
            auto kind = parse_accelerator_kind(name);
            if (!kind)
                usage_error("--accel " + name + ": expected auto, kvm or soft");
            config.accel = *kind;
        } else if (a == "--timeout") {
            config.timeout_seconds = parse_seconds(value("--timeout"));
        } else if (a == "--trace") {
            config.trace = true;
        } else if (a == "--stats") {
            config.stats = true;
        } else if (a == "--end-report") {
            end_report_path = value("--end-report");
            if (end_report_path.empty())
                usage_error("--end-report needs a file name");
        } else if (device_option) {
            config.devices.push_back(parse_device_option(*device_option, value(a.c_str())));
        } else if (a == "--profile") {
            const std::string& name = value("--profile");
            const profile* p = find_profile(name);
            if (!p) {
                std::string names;
                for (const std::string& n : profile_names())
                    names += (names.empty() ? "" : ", ") + n;
                usage_error("--profile " + name + ": no such profile; expected one of " + names);
            }
            config.policy = p;
        } else if (a == "--inject-fault") {
            const std::string& name = value("--inject-fault");
            auto f = parse_fault(name);
            if (!f)
                usage_error("--inject-fault " + name + ": no such fault; 'hbvm --list-faults' names them");
            config.injected_fault = *f;
        } else if (a.size() > 1 && a[0] == '-') {
            usage_error("unknown option " + a);
        } else if (!have_image) {
            config.image_path = a;
            have_image = true;
        } else {
            usage_error("unexpected argument '" + a + "'; kernel arguments go after '--'");
        }
    }
    if (!have_image)
        usage_error("run: which image? e.g. hbvm run build/examples/hello/hello.elf");
    check_device_settings(config.device_classes, config.devices);
    if (!end_report_path.empty()) {
        // Written now, so that a file that cannot be written is a usage error
        // before anything boots, not a report lost at the end.
        const std::string problem = write_end_report(
            end_report_path, {exit_status::host_failure, end_kind::failed, "hbvm is still running (or was killed)"});
        if (!problem.empty())
            usage_error("--end-report " + end_report_path + ": " + problem);
    }
    // One word per argument, as GRUB writes them: a word with white space or a
    // quote is put in double quotes, with \ " and ' escaped, so a kernel reads
    // an image path with spaces, or an argument "a b", as one word.
    const auto word = [](const std::string& text) {
        bool plain = !text.empty();
        for (char c : text)  // a control byte or space splits words in the guest's reader
            plain = plain && uint8_t(c) > 0x20 && c != '"' && c != '\'' && c != '\\';
        if (plain)
            return text;
        std::string quoted = "\"";
        for (char c : text) {
            if (c == '\\' || c == '"' || c == '\'')
                quoted += '\\';
            quoted += c;
        }
        return quoted + "\"";
    };
    config.cmdline = word(config.image_path);
    for (const std::string& k : kernel_args)
        config.cmdline += " " + word(k);
    // The watchdog runs before the image is opened: opening a FIFO can wait.
    watchdog dog(config.timeout_seconds);
    config.dog = &dog;
    try {
        machine vm(config);
        const run_end end = vm.run();
        report_end(end);
        return end.status;
    } catch (const stop::interrupted& e) {
        const stop::ending end = stop::describe(config.timeout_seconds, e.during());
        diagnostics::line(end.message);
        report_end({end.status, end_kind::stopped, end.message});
        return end.status;
    }
}

}  // namespace

int main(int argc, char** argv)
{
    const auto started = std::chrono::steady_clock::now();
    // Before any thread exists: the signal mask it sets is inherited by every thread.
    const unsigned reopened_fds = stop::prepare_process();
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (args.empty())
            usage_error("missing command");
        if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
            std::fputs(usage_text().c_str(), stdout);
            return 0;
        }
        if (args[0] == "--version") {
            std::printf("hbvm %s (HyperBIOS spec %u.%u)\n", HBVM_VERSION_STRING,
                        hyperbios::abi::version_major(hyperbios::abi::spec_version),
                        hyperbios::abi::version_minor(hyperbios::abi::spec_version));
            return 0;
        }
        if (args[0] == "--list-faults") {
            for (const fault_info& f : all_faults())
                std::printf("%-28s %s\n", f.name, f.description);
            return 0;
        }
        if (args[0] == "run")
            return run_command({args.begin() + 1, args.end()}, started, reopened_fds);
        usage_error("unknown command '" + args[0] + "'");
    } catch (const error& e) {
        diagnostics::line(std::string("error: ") + e.what());
        report_end({e.status(), end_kind::failed, std::string("hbvm could not run the machine: ") + e.what()});
        return e.status();
    } catch (const std::exception& e) {
        diagnostics::line(std::string("internal error: ") + e.what());
        report_end({exit_status::host_failure, end_kind::failed, std::string("internal error: ") + e.what()});
        return exit_status::host_failure;
    }
}
