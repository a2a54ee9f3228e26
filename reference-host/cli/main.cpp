// hbvm: the HyperBIOS reference host's command line.
#include "cli/config_file.hpp"
#include "cli/options.hpp"
#include "control/control_socket.hpp"
#include "core/diagnostics.hpp"
#include "core/error.hpp"
#include "core/guest_memory.hpp"
#include "vm/machine.hpp"
#include "core/stop.hpp"
#include "core/watchdog.hpp"
#include "devices/module_loader.hpp"
#include "policy/apply.hpp"
#include "policy/audit.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
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
    "  hbvm run --config FILE [options]\n"
    "  hbvm --list-faults | --list-profiles | --print-profile NAME|FILE\n"
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
    "  --list-profiles name the built-in profiles (--profile), with what each offers\n"
    "  --print-profile NAME|FILE\n"
    "                  print a built-in profile's TOML file, to start one's own\n"
    "                  from; given a FILE, check it and print it\n"
    "  -h, --help      show this text\n"
    "  --version       print hbvm's version and the spec version it implements\n"
    "\n"
    "Options of run:\n"
    "  --config FILE   read options, the image, kernel arguments and devices from a\n"
    "                  TOML file whose keys are the options' names (mem = \"256M\",\n"
    "                  trace = true, image = \"k.elf\", kernel-arguments = [\"a\"],\n"
    "                  [[disk]] tables with path, ro, name, sector: a path there\n"
    "                  may hold a comma). The command line overrides the file: an\n"
    "                  option given in both takes the command line's value, and a\n"
    "                  device option given there replaces the file's devices of\n"
    "                  that kind\n"
    "  --print-config  print the resolved configuration as a TOML file that gives\n"
    "                  the same run (defaults included), and exit\n"
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
    "  --screenshot FILE\n"
    "                  when the run ends, write display 0's last frame to FILE as a\n"
    "                  PNG (the same as --display ...,screenshot=FILE)\n"
    "  --end-report FILE\n"
    "                  when the run ends, write how it ended to FILE, one line (spec\n"
    "                  8.5): 'shutdown CODE' when the guest shut down, else 'halted',\n"
    "                  'crashed', 'stopped' or 'failed' and the reason, so that a\n"
    "                  shutdown with any code is told apart from every other end\n"
    "  --control unix:PATH\n"
    "                  serve a control socket at PATH (mode 0600): line-delimited\n"
    "                  JSON in QMP's manner, a greeting, commands with ids\n"
    "                  (query-status, stop, cont, quit, query-commands), replies and\n"
    "                  events (STOP, RESUME, END); hbvm-ctl is its client\n"
    ;
const char usage_tail[] =
    "  --profile NAME|FILE\n"
    "                  what the host offers and refuses, as a profile: a built-in\n"
    "                  (full, the default; no-reboot; minimal; ps3, modelled on the\n"
    "                  PlayStation 3's hypervisor) or a TOML file (a path, or a\n"
    "                  name ending in .toml): services, DENIED functions, disk\n"
    "                  windows, the largest display, network back ends, a RAM cap,\n"
    "                  call-rate limits. The profile's RAM cap wins over --mem: a\n"
    "                  larger --mem is an error. --list-profiles names them\n"
    "  --audit FILE    check every device access and every call served against\n"
    "                  the profile, independently of how it was applied, and append\n"
    "                  one line to FILE at the end: the accesses counted and the\n"
    "                  violations (each of the first also said on stderr)\n"
    "  --inject-fault NAME\n"
    "                  break the host on purpose in one documented way, to check\n"
    "                  that a conformance suite notices; --list-faults names them\n"
    "  -h, --help      show this text\n"
    "\n"
    "Guest ports: 0xE9 writes go to stderr (debug console); a write of V to 0xF4\n"
    "ends the run with exit status (V << 1) | 1, as QEMU's isa-debug-exit does.\n"
    "\n"
    "Back-end modules: a device whose back end needs a heavy library is created\n"
    "by a module, hbvm-NAME.so, loaded only when such a device is chosen (none of\n"
    "the devices above needs one). hbvm looks in the folders of HBVM_MODULE_PATH\n"
    "(colon-separated), then in lib/hyperbios/modules beside the folder hbvm is\n"
    "in; a module missing or of another hbvm version is refused with status 74.\n"
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

// The commands of the control socket (README, "The control socket"): what the
// machine can be asked while it runs, and what its devices add (screenshots,
// input, network forwarding: device::control_commands).
void add_control_commands(control_socket& control, machine& vm, watchdog& dog)
{
    using command = control_socket::command;
    control.add_command("query-status", command{"whether the guest runs or is paused", [&vm](const json::object&) {
                                                    return json::value(json::object{
                                                        {"status", vm.paused() ? "paused" : "running"},
                                                        {"running", !vm.paused()}});
                                                }});
    control.add_command("stop", command{"pause the guest (event STOP once it is paused)", [&vm](const json::object&) {
                                            vm.pause();
                                            return json::value(json::object{});
                                        }});
    control.add_command("cont", command{"let a paused guest go on (event RESUME)", [&vm](const json::object&) {
                                            vm.resume();
                                            return json::value(json::object{});
                                        }});
    control.add_command("quit", command{"end the run: status 0, end report 'stopped' (event END)",
                                        [&dog](const json::object&) {
                                            stop::request(stop::quit_request);
                                            dog.stop_now();
                                            return json::value(json::object{});
                                        }});
    // The devices' commands after the machine's, so that a clash names the device's.
    for (auto& [name, c] : vm.device_commands())
        control.add_command(name, std::move(c));
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
    run_options options;
    // The config file first, wherever --config stands: the command line overrides it.
    for (size_t i = 0; i + 1 < args.size() && args[i] != "--"; ++i)
        if (args[i] == "--config")
            load_config_file(args[i + 1], options);
    machine_config& config = options.machine;
    config.started = started;
    config.reopened_fds = reopened_fds;
    std::vector<device_settings> command_line_devices;
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
        auto value = [&](const std::string& option) -> const std::string& {
            if (i + 1 >= args.size())
                usage_error(option + " needs a value");
            return args[++i];
        };
        const run_option* option = a.rfind("--", 0) == 0 ? find_run_option(a.substr(2)) : nullptr;
        if (a == "-h" || a == "--help") {
            std::fputs(usage_text().c_str(), stdout);
            return 0;
        } else if (a == "--") {
            options.kernel_arguments = std::vector<std::string>(args.begin() + long(i) + 1, args.end());
            break;
        } else if (option) {
            const std::string text = option->takes_value ? value(a) : "true";
            try {
                option->set(options, text);
            } catch (const error& e) {
                usage_error(a + (option->takes_value ? " " + text : "") + ": " + e.what());
            }
        } else if (device_option) {
            command_line_devices.push_back(parse_device_option(*device_option, value(a)));
        } else if (a.size() > 1 && a[0] == '-') {
            usage_error("unknown option " + a);
        } else if (!seen.insert("IMAGE").second) {
            usage_error("unexpected argument '" + a + "'; kernel arguments go after '--'");
        } else {
            options.image = a;
        }
    }
    // A class given on the command line replaces the file's devices of that class.
    for (const device_settings& d : command_line_devices)
        std::erase_if(config.devices, [&](const device_settings& f) {
            return f.device_class == d.device_class && f.origin.rfind("--", 0) != 0;
        });
    config.devices.insert(config.devices.end(), command_line_devices.begin(), command_line_devices.end());
    // --screenshot is display 0's screenshot= (a display of the default kind
    // when none is given).
    if (!options.screenshot_path.empty()) {
        auto first = std::find_if(config.devices.begin(), config.devices.end(),
                                  [](const device_settings& d) { return d.device_class == "display"; });
        if (first == config.devices.end()) {
            config.devices.push_back(device_settings{"display", "--screenshot " + options.screenshot_path, {}});
            first = config.devices.end() - 1;
        }
        if (first->get("screenshot"))
            usage_error("--screenshot and " + first->origin + " both name display 0's screenshot; give one");
        first->values.emplace_back("screenshot", options.screenshot_path);
        options.screenshot_path.clear();
    }
    if (!options.image)
        usage_error("run: which image? e.g. hbvm run build/examples/hello/hello.elf (or image = in a --config file)");
    config.image_path = *options.image;
    apply_profile(*config.policy, config, options.memory_given);
    check_device_settings(config.device_classes, config.devices);
    apply_profile_to_defaults(*config.policy, config.devices, config.injected_fault);
    if (options.print_config) {
        std::fputs(dump_config(options).c_str(), stdout);
        return 0;
    }
    if (!options.audit_path.empty())
        access_audit::start(*config.policy, options.audit_path);
    // The audit's line is written however the run ends, a usage error after this included.
    struct audit_finisher {
        ~audit_finisher() { access_audit::finish(); }
    } audit_finisher;
    end_report_path = options.end_report_path;
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
    for (const std::string& k : options.kernel_arguments.value_or(std::vector<std::string>{}))
        config.cmdline += " " + word(k);
    // The watchdog runs before the image is opened: opening a FIFO can wait.
    watchdog dog(config.timeout_seconds);
    config.dog = &dog;
    // The control socket exists before the machine, so that a path it cannot
    // use is a usage error before anything boots.
    std::optional<control_socket> control;
    if (!options.control_address.empty()) {
        control.emplace(options.control_address);
        config.on_pause = [&control](bool paused) { control->emit(paused ? "STOP" : "RESUME"); };
    }
    try {
        machine vm(config);
        // The socket's commands use the machine and its devices: it stops serving
        // before they go, whichever way this block is left.
        struct stop_serving {
            std::optional<control_socket>& control;
            ~stop_serving()
            {
                if (control)
                    control->stop();
            }
        } guard{control};
        if (control) {
            add_control_commands(*control, vm, dog);
            control->start();
        }
        const run_end end = vm.run();
        report_end(end);
        if (control)
            control->emit("END", json::object{{"end", end_report_line(end)}, {"status", end.status}});
        return end.status;
    } catch (const stop::interrupted& e) {
        const stop::ending end = stop::describe(config.timeout_seconds, e.during());
        diagnostics::line(end.message);
        report_end({end.status, end_kind::stopped, end.message});
        return end.status;
    }
}

}  // namespace

// Ends hbvm once its run is over. The libraries a back-end module brought in
// run exit handlers of their own (Mesa's GL under SDL tears down LLVM for tens
// of milliseconds), which would break the 100 ms a stop keeps; hbvm's own work
// is done and written (through write(2)) by now, so it ends without them. Not
// in the sanitizer build, whose leak check is an exit handler.
#if defined(__SANITIZE_ADDRESS__)
#define HBVM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HBVM_SANITIZED 1
#endif
#endif
int end_process(int status)
{
#if !defined(HBVM_SANITIZED)
    if (any_module_loaded()) {
        std::fflush(nullptr);
        _exit(status);
    }
#endif
    return status;
}

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
        if (args[0] == "--list-profiles") {
            for (const std::string& name : profile_names())
                std::printf("%-12s %s\n", name.c_str(), find_profile(name)->description.c_str());
            return 0;
        }
        if (args[0] == "--print-profile") {
            if (args.size() != 2)
                usage_error("--print-profile needs one profile: a built-in's name (--list-profiles) or a file");
            if (const char* text = builtin_profile_text(args[1])) {
                std::fputs(text, stdout);
                return 0;
            }
            const std::shared_ptr<const profile> p = resolve_profile(args[1]);  // checks the file
            std::ifstream in(args[1], std::ios::binary);
            std::cout << in.rdbuf();
            std::fprintf(stderr, "hbvm: %s: a valid profile '%s'\n", args[1].c_str(), p->name.c_str());
            return 0;
        }
        if (args[0] == "run")
            return end_process(run_command({args.begin() + 1, args.end()}, started, reopened_fds));
        usage_error("unknown command '" + args[0] + "'");
    } catch (const error& e) {
        diagnostics::line(std::string("error: ") + e.what());
        report_end({e.status(), end_kind::failed, std::string("hbvm could not run the machine: ") + e.what()});
        return end_process(e.status());
    } catch (const std::exception& e) {
        diagnostics::line(std::string("internal error: ") + e.what());
        report_end({exit_status::host_failure, end_kind::failed, std::string("internal error: ") + e.what()});
        return end_process(exit_status::host_failure);
    }
}
