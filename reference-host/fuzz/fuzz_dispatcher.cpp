// fuzz_dispatcher: libFuzzer target for hbvm::dispatcher with every service
// registered as machine.cpp registers them (BASE, CONSOLE on /dev/null, TIME, POWER,
// MEM, RNG, BLOCK without disks, EVT, DSP with one display that keeps its frames,
// INP with a keyboard and an absolute pointer on it, NET with one interface on a
// socket segment of its own, where nobody else listens or sends, AUD with one
// stream that plays into nothing).
//
// An input is a profile selector byte followed by a sequence of calls (a call word
// and five arguments, each drawn by a selector byte; see decode_call). After every
// call the target checks, against a reference model written here from the ABI table
// and the spec (not from the dispatcher's code):
//   (a) the status is one the spec defines (HB-STS-001);
//   (b) the value is 0 when the status is not SUCCESS (HB-CALL-004);
//   (c) the checks of spec section 2.1 in their order: reserved bits of the call word
//       (INVALID_PARAM), unknown or not offered (NOT_SUPPORTED), refused by the
//       profile (DENIED), reserved bits of any argument (INVALID_PARAM), any buffer of
//       non-zero length outside RAM or wrapping (INVALID_ADDRESS); when the model
//       predicts one of these the dispatcher must return exactly it, with no effect;
//   (d) no byte of guest memory changed outside the call's out buffers (HB-GEN-005):
//       guest RAM is read-only during a call except the pages of its out buffers, so
//       a stray write faults at the culprit (the fault is reported as a finding);
//       those pages are compared with a shadow copy of RAM after the call (all of RAM
//       is, after every call, if RAM cannot be protected);
//   (e) the functions' own MUST requirements where they are cheap to check (BASE
//       values, HB-BASE-006's exact name copy, HB-CON-004, clocks, POWER requests,
//       EVT's statuses and the mask and vector it returns, from a model of them,
//       DSP's and INP's counts, record sizes, generations and mode limits, NET's
//       count, info, link, frame lengths and empty receive queue, AUD's count,
//       record sizes, queue clamp and whole-frame writes),
//       and that on_guest_write reports exactly the out buffers of successful calls.
// EVT.wait sleeps until its deadline: the harness gives it deadlines of at most
// 2^20 ns after the zero of CLOCK_MONOTONIC (long past on any machine that has run
// a second), so that no call blocks (bounded_wait).
// A violation prints one diagnostic and aborts, which libFuzzer records as a crash.
#include "core/dispatcher.hpp"
#include "core/guest_memory.hpp"
#include "devices/clock.hpp"
#include "devices/device_set.hpp"
#include "devices/display.hpp"
#include "devices/audio.hpp"
#include "devices/input.hpp"
#include "devices/network.hpp"
#include "devices/terminal.hpp"
#include "policy/profile.hpp"
#include "core/event_hub.hpp"
#include "services/services.hpp"

#include <hyperbios/abi.hpp>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace abi = hyperbios::abi;
using hbvm::call_request;
using hbvm::call_result;
using hbvm::machine_request;

constexpr uint64_t ram_size = 1ull << 20;
constexpr size_t max_calls_per_input = 64;

// ---------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------

const char* status_text(int64_t s)
{
    return abi::is_spec_status(s) ? abi::status_name(abi::status(s)) : "(not a spec status)";
}

std::string describe(const call_request& r, size_t index)
{
    char line[256];
    const abi::function_desc* f = abi::find_function(r.call);
    std::snprintf(line, sizeof line, "call #%zu: %s%s%s (0x%" PRIx64 ")(0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64
                  ", 0x%" PRIx64 ", 0x%" PRIx64 ")",
                  index, f ? f->service_name : "unknown", f ? "." : "", f ? f->name : "", r.call, r.args[0],
                  r.args[1], r.args[2], r.args[3], r.args[4]);
    return line;
}

const call_request* current_request = nullptr;
size_t current_index = 0;

[[noreturn]] __attribute__((format(printf, 1, 2))) void finding(const char* format, ...)
{
    std::fprintf(stderr, "\nfuzz_dispatcher: FINDING: ");
    va_list ap;
    va_start(ap, format);
    std::vfprintf(stderr, format, ap);
    va_end(ap);
    if (current_request)
        std::fprintf(stderr, "\n  in %s (RAM is 0x%" PRIx64 " bytes)", describe(*current_request, current_index).c_str(),
                     ram_size);
    std::fprintf(stderr, "\n");
    std::abort();
}

#define FUZZ_CHECK(cond, ...)      \
    do {                           \
        if (!(cond))               \
            finding(__VA_ARGS__);  \
    } while (0)

// ---------------------------------------------------------------------------
// The reference model: spec section 2.1, from the ABI table and the profile's data
// ---------------------------------------------------------------------------

struct range {
    uint64_t address, length;
};

bool inside_ram(uint64_t address, uint64_t length)
{
    // In 128 bits, so that wrapping past 2^64 is simply "beyond RAM".
    return (unsigned __int128)address + length <= ram_size;
}

// The reference host's EVT timers (HB-EVT-001: at least 8).
constexpr uint64_t evt_timers = 8;

// The harness's devices: no disk, one display (its largest mode below), a
// keyboard and a pointer, one network interface (MTU 1500).
constexpr uint64_t displays = 1, inputs = 2, interfaces = 1, streams = 1;
constexpr uint64_t max_frame = 1514;
constexpr uint64_t display_max_width = 4096, display_max_height = 4096;

// How many objects a handle argument of `f` can name in this harness: its
// service's count, or none when the profile refuses the function that counts
// them (a host cannot count what the guest may not see counted).
uint64_t handle_count(const hbvm::profile& p, const abi::function_desc& f, abi::arg_kind k)
{
    if (k == abi::arg_kind::timer_index)
        return evt_timers;
    for (const abi::function_desc& counter : abi::functions)
        if (counter.svc == f.svc && counter.result == abi::result_kind::object_count &&
            std::find(p.denied.begin(), p.denied.end(), counter.call) != p.denied.end())
            return 0;
    switch (f.svc) {
    case abi::service::dsp: return displays;
    case abi::service::inp: return inputs;
    case abi::service::net: return interfaces;
    case abi::service::aud: return streams;
    default: return 0;  // BLOCK: no disks
    }
}

bool is_buffer(abi::arg_kind k) { return abi::is_buffer(abi::kind_of(k).cls); }

struct prediction {
    bool reaches_handler = false;                   // every check of 2.1 passes
    abi::status status = abi::status::success;      // when !reaches_handler: the exact status
    const abi::function_desc* function = nullptr;   // when reaches_handler
};

prediction model(const hbvm::profile& p, const call_request& r)
{
    prediction out;
    // 1. Reserved bits of the call word.
    if (r.call >> 32) {
        out.status = abi::status::invalid_param;
        return out;
    }
    // 2. Unknown service or function, or a service the profile does not offer.
    const abi::function_desc* f = nullptr;
    for (const abi::function_desc& d : abi::functions)
        if ((uint64_t(uint16_t(d.svc)) << 16 | d.id) == r.call)
            f = &d;
    if (!f || std::find(p.services.begin(), p.services.end(), f->svc) == p.services.end()) {
        out.status = abi::status::not_supported;
        return out;
    }
    // 3. Refused by the profile.
    if (std::find(p.denied.begin(), p.denied.end(), f->call) != p.denied.end()) {
        out.status = abi::status::denied;
        return out;
    }
    // 4. Every argument against its kind in the ABI table (reserved bits, then
    // its range), before any buffer; a handle (a device or timer index) names
    // one of the objects the harness gives its service (handle_count).
    for (unsigned i = 0; i < abi::max_args; ++i) {
        const abi::arg_kind_desc& k = abi::kind_of(f->args[i]);
        const bool reserved_or_range = (r.args[i] & k.reserved) || r.args[i] < k.min || r.args[i] > k.max ||
                                       (k.cls == abi::arg_class::enumeration && !abi::is_enum_value(k.enumeration, r.args[i]));
        const bool bad_handle = k.cls == abi::arg_class::handle && r.args[i] >= handle_count(p, *f, f->args[i]);
        if (k.cls != abi::arg_class::unused && (reserved_or_range || bad_handle)) {
            out.status = abi::status::invalid_param;
            return out;
        }
    }
    // 5. Buffers of non-zero length, and records of their kind's size: inside
    // RAM, not wrapping.
    for (unsigned i = 0; i < abi::max_args; ++i) {
        const abi::arg_kind_desc& k = abi::kind_of(f->args[i]);
        const bool bad_buffer = is_buffer(f->args[i]) && i + 1 < abi::max_args && r.args[i + 1] != 0 &&
                                !inside_ram(r.args[i], r.args[i + 1]);
        const bool bad_record = abi::is_record(k.cls) && !inside_ram(r.args[i], k.record_size);
        if (bad_buffer || bad_record) {
            out.status = abi::status::invalid_address;
            return out;
        }
    }
    out.reaches_handler = true;
    out.function = f;
    return out;
}

// ---------------------------------------------------------------------------
// The machine under test
// ---------------------------------------------------------------------------

constexpr uint64_t page_size = 4096;

// The whole pages that hold a range of RAM.
range page_span(const range& r)
{
    const uint64_t begin = r.address & ~(page_size - 1);
    const uint64_t end = std::min(ram_size, (r.address + r.length + page_size - 1) & ~(page_size - 1));
    return {begin, end - begin};
}

// A fault on read-only guest RAM is a write outside the call's out buffers: say so,
// then let the sanitizer's handler report the stack as usual.
struct sigaction previous_segv_action;
const std::byte* fault_ram = nullptr;
uint64_t fault_ram_size = 0;

void fault_note(int sig, siginfo_t* info, void* context)
{
    const auto* a = static_cast<const std::byte*>(info->si_addr);
    if (fault_ram && a >= fault_ram && a < fault_ram + fault_ram_size) {
        char line[200];
        const int n = std::snprintf(line, sizeof line,
                                    "\nfuzz_dispatcher: FINDING: HB-GEN-005: the host wrote guest byte 0x%" PRIx64
                                    ", outside the out buffers of the call (guest RAM is read-only there)\n",
                                    uint64_t(a - fault_ram));
        if (n > 0)
            (void)!write(2, line, size_t(std::min(n, int(sizeof line) - 1)));
        if (current_request) {
            const std::string what = "  in " + describe(*current_request, current_index) + "\n";
            (void)!write(2, what.data(), what.size());
        }
    }
    if (previous_segv_action.sa_flags & SA_SIGINFO) {
        previous_segv_action.sa_sigaction(sig, info, context);
    } else if (previous_segv_action.sa_handler != SIG_DFL && previous_segv_action.sa_handler != SIG_IGN) {
        previous_segv_action.sa_handler(sig);
    } else {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

void install_fault_note(const std::byte* ram, uint64_t size)
{
    fault_ram = ram;
    fault_ram_size = size;
    struct sigaction action {};
    action.sa_sigaction = fault_note;
    action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv_action);
}

uint8_t pattern_byte(uint64_t address)
{
    uint64_t x = (address + 1) * 0x9E3779B97F4A7C15ull;
    return uint8_t(x >> 56);
}

struct harness {
    hbvm::guest_memory memory{ram_size};
    std::vector<std::byte> pattern = std::vector<std::byte>(ram_size);
    std::vector<std::byte> shadow;
    std::vector<range> dirty;  // ranges where memory and shadow may differ from the pattern

    int null_fd = -1;
    std::unique_ptr<hbvm::terminal> term;
    std::unique_ptr<hbvm::display> screen;
    std::unique_ptr<hbvm::input> keyboard, pointer;
    std::unique_ptr<hbvm::network> interface;
    std::unique_ptr<hbvm::audio> sound;
    hbvm::device_set devices;
    hbvm::clock_source clock;
    hbvm::implementation_identity identity{
        1,
        (uint64_t(HBVM_VERSION_MAJOR) << 32) | (uint64_t(HBVM_VERSION_MINOR) << 16) | HBVM_VERSION_PATCH,
        "HyperBIOS reference host (hbvm " HBVM_VERSION_STRING ")"};

    std::vector<hbvm::profile> profiles;
    std::vector<std::unique_ptr<hbvm::dispatcher>> dispatchers;
    std::vector<std::unique_ptr<hbvm::event_hub>> hubs;  // one event path per set of modules
    std::vector<std::unique_ptr<hbvm::service_set>> services;  // one set of modules per dispatcher

    std::vector<range> reported_writes;  // on_guest_write during the current call
    uint64_t last_monotonic = 0;
    // Per profile, what EVT holds: the mask and the vector, as at boot until set.
    std::vector<uint64_t> evt_mask, evt_vector;
    // The display's mode and generation (only the full profile offers DSP).
    uint64_t dsp_generation = 1, dsp_width = 1024, dsp_height = 768;

    harness()
    {
        for (uint64_t a = 0; a < ram_size; ++a)
            pattern[a] = std::byte(pattern_byte(a));
        std::memcpy(memory.host_base(), pattern.data(), ram_size);
        shadow = pattern;

        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0) {
            std::perror("fuzz_dispatcher: /dev/null");
            std::exit(1);
        }
        term = std::make_unique<hbvm::terminal>(null_fd, null_fd);
        devices.attach("console", *term);
        hbvm::display::settings shown;  // `none`: the frames are kept, no window
        shown.name = "display0";
        shown.max_width = display_max_width;
        shown.max_height = display_max_height;
        screen = std::make_unique<hbvm::display>(shown, hbvm::device_host{});
        devices.attach("display", *screen);
        keyboard = std::make_unique<hbvm::input>(hbvm::input::settings{"keyboard0", abi::inp_kind::keyboard, -1, 256});
        pointer = std::make_unique<hbvm::input>(hbvm::input::settings{"pointer1", abi::inp_kind::pointer, 0, 256});
        devices.attach("input", *keyboard);
        devices.attach("input", *pointer);
        char segment[] = "/tmp/fuzz-net-XXXXXX";  // a segment of one: frames sent reach nobody
        if (!mkdtemp(segment)) {
            std::perror("fuzz_dispatcher: mkdtemp");
            std::exit(1);
        }
        hbvm::network::settings wire;
        wire.name = "net0";
        wire.backend = std::string("socket:") + segment;
        wire.mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
        wire.given = {"net", "the fuzzer's interface", {}};
        interface = std::make_unique<hbvm::network>(wire, hbvm::device_host{});
        devices.attach("net", *interface);
        hbvm::audio::settings quiet;  // `none`: plays at the pace into nothing
        quiet.name = "audio0";
        sound = std::make_unique<hbvm::audio>(quiet, hbvm::device_host{});
        devices.attach("audio", *sound);

        // The reference host's profile, and three that exercise DENIED and services
        // not offered. HB-BASE-007: BASE is always offered and never denied.
        using fn = abi::function;
        using svc = abi::service;
        profiles.push_back(hbvm::full_profile());
        // fuzz-no-power also denies POWER.reboot, which it does not offer: NOT_SUPPORTED must win.
        profiles.push_back({"fuzz-no-power", "no POWER; CONSOLE.read and TIME.wallclock_ns denied",
                            {svc::base, svc::console, svc::time},
                            {fn::console_read, fn::time_wallclock_ns, fn::power_reboot}});
        profiles.push_back({"fuzz-base-only", "BASE alone", {svc::base}, {fn::console_write, fn::power_shutdown}});
        profiles.push_back({"fuzz-deny-most", "every service, every non-BASE call denied",
                            {svc::base, svc::console, svc::time, svc::power}, {}});
        for (const abi::function_desc& f : abi::functions)
            if (f.svc != svc::base)
                profiles.back().denied.push_back(f.call);

        evt_mask.assign(profiles.size(), ~uint64_t(0));
        evt_vector.assign(profiles.size(), 0);
        for (const hbvm::profile& p : profiles) {
            auto d = std::make_unique<hbvm::dispatcher>(memory, p);
            hubs.push_back(std::make_unique<hbvm::event_hub>());
            services.push_back(std::make_unique<hbvm::service_set>(
                hbvm::service_registry(), hbvm::service_context{devices, clock, identity, memory.size(), *hubs.back()},
                *d));
            services.back()->reset(hbvm::boot_cause::power_on);
            d->on_host_bug = [](const std::string& what) { finding("dispatcher reported a host bug: %s", what.c_str()); };
            d->on_guest_write = [this](uint64_t address, uint64_t length) {
                reported_writes.push_back({address, length});
            };
            dispatchers.push_back(std::move(d));
        }
        if (mprotect(ram(), ram_size, PROT_READ) == 0)
            enable_protection();
        else
            std::fprintf(stderr, "fuzz_dispatcher: cannot protect guest RAM (%s); comparing all of it after every call\n",
                         std::strerror(errno));
    }

    std::byte* ram() { return memory.host_base(); }

    // Guest RAM stays read-only except, during a call, the pages of its out buffers:
    // a stray write by the host faults at the writing instruction. Off when the
    // mapping cannot be protected; then every call compares all of RAM.
    bool protection = false;

    void protect(const range& r, int prot)
    {
        if (!protection)
            return;
        const range pages = page_span(r);
        if (mprotect(ram() + pages.address, pages.length, prot) != 0)
            finding("mprotect of guest RAM failed: %s", std::strerror(errno));
    }

    void enable_protection()
    {
        protection = true;
        protect({0, ram_size}, PROT_READ);
        install_fault_note(ram(), ram_size);
    }

    // Back to the pattern where the previous input may have written.
    void reset()
    {
        for (const range& r : dirty) {
            protect(r, PROT_READ | PROT_WRITE);
            std::memcpy(ram() + r.address, pattern.data() + r.address, r.length);
            std::memcpy(shadow.data() + r.address, pattern.data() + r.address, r.length);
            protect(r, PROT_READ);
        }
        dirty.clear();
    }
};

harness& the_harness()
{
    static harness* h = new harness();  // never destroyed: libFuzzer may exit from anywhere
    return *h;
}

// ---------------------------------------------------------------------------
// Input decoding
// ---------------------------------------------------------------------------

class reader {
public:
    reader(const uint8_t* data, size_t size) : p_(data), n_(size) {}
    bool empty() const { return n_ == 0; }
    uint8_t u8()
    {
        if (n_ == 0)
            return 0;
        --n_;
        return *p_++;
    }
    uint64_t le(unsigned bytes)
    {
        uint64_t v = 0;
        for (unsigned i = 0; i < bytes; ++i)
            v |= uint64_t(u8()) << (8 * i);
        return v;
    }

private:
    const uint8_t* p_;
    size_t n_;
};

uint64_t decode_call_word(reader& in)
{
    const uint8_t sel = in.u8();
    if (sel < 0xA0)  // ~60%: a call of the ABI table
        return uint64_t(abi::functions[sel % abi::function_count].call);
    if (sel < 0xB8) {  // a known service with a function ID around the defined ones
        const abi::service_desc& s = abi::services[sel % abi::service_count];
        return abi::make_call(uint16_t(s.id), in.u8());
    }
    if (sel < 0xC8) {  // a known call with one reserved bit of the call word set
        const uint64_t call = uint64_t(abi::functions[in.u8() % abi::function_count].call);
        return call | (1ull << (32 + in.u8() % 32));
    }
    if (sel < 0xD8)  // service or function beyond the dispatcher's direct table (>= 32)
        return sel & 1 ? abi::make_call(uint16_t(32 + in.u8()), in.u8())
                       : abi::make_call(uint16_t(in.u8() % 8), uint16_t(32 + in.u8()));
    if (sel < 0xF0)  // any 32-bit call word
        return in.le(4);
    return in.le(8);  // anything
}

// Each argument: a selector byte, then what it asks for. Buffer-friendly values
// (around the end of RAM, zero, wrapping) are most of the menu; `previous` is the
// argument before, so that a length can aim exactly at the end of RAM or at 2^64.
uint64_t decode_arg(reader& in, uint64_t previous)
{
    const uint8_t sel = in.u8();
    switch (sel % 20) {
    case 0:
    case 1: return 0;
    case 2: return in.u8();
    case 3: return in.le(2);
    case 4: return ram_size - 1 - (in.le(2) % 0x1000);            // in the last 4 KiB of RAM
    case 5: return ram_size - in.u8();                             // up to the end of RAM
    case 6: return ram_size + in.u8();                             // just past the end of RAM
    case 7: return ~uint64_t(0) - in.le(2);                        // just below 2^64
    case 8: return (ram_size - previous) + int8_t(in.u8());        // length ending near the end of RAM
    case 9: return (0 - previous) + int8_t(in.u8());               // length ending near 2^64 (wraps)
    case 10: return 1 + in.u8() % 64;                              // small length
    case 11: return in.le(3) % ram_size;                           // anywhere in RAM
    case 12: return ram_size;
    case 13: return 1ull << (in.u8() % 64);                        // one bit: reserved-bit checks
    case 14: return uint64_t(0x100) << (8 * (in.u8() % 7));        // just above an 8/16/... -bit field
    case 15: return in.le(4);
    case 16: return in.le(8);
    case 17: return 0xFF + (in.u8() & 1) * (0xFFFF - 0xFF);        // field maxima 0xFF, 0xFFFF
    case 18: return previous;
    default: return ram_size / 2 + in.le(2);
    }
}

// EVT.wait blocks until its deadline: keep it at most 2^20 ns (about 1 ms) after
// the zero of CLOCK_MONOTONIC, in the past, so that every wait returns at once.
void bounded_wait(call_request& r)
{
    if (r.call == uint64_t(abi::function::evt_wait))
        r.args[0] &= (uint64_t(1) << 20) - 1;
}

call_request decode_call(reader& in)
{
    call_request r{};
    r.call = decode_call_word(in);
    uint64_t previous = 0;
    for (unsigned i = 0; i < abi::max_args; ++i)
        previous = r.args[i] = decode_arg(in, previous);
    bounded_wait(r);
    return r;
}

// ---------------------------------------------------------------------------
// Checks of one call
// ---------------------------------------------------------------------------

void check_unchanged_since_shadow(harness& h, uint64_t address, uint64_t length, const char* what)
{
    if (length == 0 || std::memcmp(h.ram() + address, h.shadow.data() + address, length) == 0)
        return;
    uint64_t a = address;
    while (h.ram()[a] == h.shadow[a])
        ++a;
    finding("%s: guest byte 0x%" PRIx64 " changed from 0x%02x to 0x%02x", what, a, unsigned(h.shadow[a]),
            unsigned(h.ram()[a]));
}

// (e): the function's own requirements, when the call got past the checks of 2.1.
// Runs before the shadow takes in the out buffers, so it can see what changed.
void check_function(harness& h, size_t profile_index, const hbvm::profile& p, const abi::function_desc& f,
                    const call_request& r, const call_result& res)
{
    using fn = abi::function;
    const uint64_t status = uint64_t(res.status);
    const bool ok = res.status == abi::status::success;
    FUZZ_CHECK(res.status != abi::status::not_supported && res.status != abi::status::denied,
               "%s for a call the profile offers and allows", abi::status_name(res.status));
    switch (f.call) {
    case fn::base_get_spec_version:
        FUZZ_CHECK(ok && abi::version_major(uint32_t(res.value)) == abi::version_major(abi::spec_version) &&
                       res.value >> 32 == 0,
                   "HB-BASE-001: status %s, value 0x%" PRIx64, status_text(int64_t(status)), res.value);
        break;
    case fn::base_probe_service: {
        const abi::service_desc* s = abi::find_service(r.args[0]);
        const bool offered = s && std::find(p.services.begin(), p.services.end(), s->id) != p.services.end();
        const uint64_t expected = offered ? s->version : 0;
        FUZZ_CHECK(ok && res.value == expected, "HB-BASE-002: status %s, value 0x%" PRIx64 ", expected 0x%" PRIx64,
                   status_text(int64_t(status)), res.value, expected);
        break;
    }
    case fn::base_permitted_functions: {
        // The model: every function of an offered service but the profile's denied ones.
        uint64_t expected = 0;
        for (const abi::function_desc& g : abi::functions)
            if (uint64_t(g.svc) == r.args[0] && p.offers(g.svc) && !p.denies(g.call) && g.id < 64)
                expected |= uint64_t(1) << g.id;
        FUZZ_CHECK(ok && res.value == expected, "HB-BASE-008: status %s, value 0x%" PRIx64 ", expected 0x%" PRIx64,
                   status_text(int64_t(status)), res.value, expected);
        break;
    }
    case fn::base_rate_limit: {
        const abi::function_desc* g = abi::find_function(r.args[0]);
        const hbvm::rate_limit* limit = g && p.offers(g->svc) && !p.denies(g->call) ? p.rate_of(g->call) : nullptr;
        const uint64_t expected = limit ? limit->per_second : 0;
        FUZZ_CHECK(ok && res.value == expected, "HB-BASE-010: status %s, value %" PRIu64 ", expected %" PRIu64,
                   status_text(int64_t(status)), res.value, expected);
        break;
    }
    case fn::base_get_impl_id:
        FUZZ_CHECK(ok && abi::is_implementation_id(res.value) && res.value == h.identity.id, "HB-BASE-004: status %s, value 0x%" PRIx64,
                   status_text(int64_t(status)), res.value);
        break;
    case fn::base_get_impl_version:
        FUZZ_CHECK(ok && res.value == h.identity.version, "HB-BASE-005: status %s, value 0x%" PRIx64,
                   status_text(int64_t(status)), res.value);
        break;
    case fn::base_get_impl_name: {
        const std::string& name = h.identity.name;
        FUZZ_CHECK(ok && res.value == name.size() && res.value >= 1,
                   "HB-BASE-006: status %s, value %" PRIu64 ", name length %zu", status_text(int64_t(status)),
                   res.value, name.size());
        const uint64_t n = std::min<uint64_t>(r.args[1], name.size());
        FUZZ_CHECK(n == 0 || std::memcmp(h.ram() + r.args[0], name.data(), n) == 0,
                   "HB-BASE-006: the first %" PRIu64 " bytes of the buffer are not the name", n);
        if (r.args[1] > n)
            check_unchanged_since_shadow(h, r.args[0] + n, r.args[1] - n, "HB-BASE-006: byte after the name");
        break;
    }
    case fn::console_write:
        FUZZ_CHECK(ok && res.value == r.args[1], "HB-CON-001: status %s, value %" PRIu64 " for %" PRIu64 " bytes",
                   status_text(int64_t(status)), res.value, r.args[1]);
        break;
    case fn::console_read:  // /dev/null: nothing is ever waiting
        FUZZ_CHECK(ok && res.value <= r.args[1], "HB-CON-003: status %s, value %" PRIu64 " for a %" PRIu64
                   "-byte buffer", status_text(int64_t(status)), res.value, r.args[1]);
        if (r.args[1] > res.value)
            check_unchanged_since_shadow(h, r.args[0] + res.value, r.args[1] - res.value,
                                         "HB-CON-004: byte beyond the count");
        break;
    case fn::console_input_state:  // /dev/null: the input has ended from the start
        FUZZ_CHECK(ok && res.value == abi::console_input_state::ended, "HB-CON-006: status %s, value %" PRIu64,
                   status_text(int64_t(status)), res.value);
        break;
    case fn::time_monotonic_ns:
        FUZZ_CHECK(ok && res.value >= h.last_monotonic, "HB-TIME-001: status %s, value %" PRIu64 " after %" PRIu64,
                   status_text(int64_t(status)), res.value, h.last_monotonic);
        h.last_monotonic = res.value;
        break;
    case fn::time_wallclock_ns:
        FUZZ_CHECK(ok, "HB-TIME-003: status %s", status_text(int64_t(status)));
        break;
    case fn::time_resolution_ns:
        FUZZ_CHECK(ok && res.value >= 1 && res.value <= 10000000, "HB-TIME-004: status %s, value %" PRIu64,
                   status_text(int64_t(status)), res.value);
        break;
    case fn::power_shutdown:
        FUZZ_CHECK(ok && res.request.what == machine_request::kind::power_off && res.request.exit_code == r.args[0],
                   "HB-PWR-001: status %s, request %d, exit code %u", status_text(int64_t(status)),
                   int(res.request.what), unsigned(res.request.exit_code));
        break;
    case fn::power_reboot:
        FUZZ_CHECK(ok && res.request.what == machine_request::kind::reset, "HB-PWR-003: status %s, request %d",
                   status_text(int64_t(status)), int(res.request.what));
        break;
    case fn::power_reset_reason:
        FUZZ_CHECK(ok && res.value == abi::reset_power_on, "HB-PWR-004: status %s, value %" PRIu64,
                   status_text(int64_t(status)), res.value);
        break;
    case fn::evt_timer_count:
        FUZZ_CHECK(ok && res.value == evt_timers, "HB-EVT-001: status %s, value %" PRIu64,
                   status_text(int64_t(status)), res.value);
        break;
    case fn::evt_timer_set:
        // Periods 1-9999 are refused; any other setting may be refused only as one
        // the host's clock cannot hold (INVALID_PARAM), never with another status.
        if (r.args[2] != 0 && r.args[2] < 10000)
            FUZZ_CHECK(res.status == abi::status::invalid_param, "HB-EVT-002: period %" PRIu64 " ns: status %s",
                       r.args[2], status_text(int64_t(status)));
        else
            FUZZ_CHECK(ok || res.status == abi::status::invalid_param, "HB-EVT-002: status %s",
                       status_text(int64_t(status)));
        break;
    case fn::evt_timer_cancel:
    case fn::evt_timer_ack:
    case fn::evt_poll:
        FUZZ_CHECK(ok, "%s.%s of a valid timer: status %s", f.service_name, f.name, status_text(int64_t(status)));
        break;
    case fn::evt_wait:  // its deadline is in the past (bounded_wait): returns at once with SUCCESS
        FUZZ_CHECK(ok, "HB-EVT-007: wait with a past deadline: status %s", status_text(int64_t(status)));
        break;
    case fn::evt_set_mask:
        FUZZ_CHECK(ok && res.value == h.evt_mask[profile_index],
                   "HB-EVT-009: status %s, previous mask 0x%" PRIx64 ", expected 0x%" PRIx64,
                   status_text(int64_t(status)), res.value, h.evt_mask[profile_index]);
        h.evt_mask[profile_index] = r.args[0];
        break;
    case fn::evt_set_vector:
        if (r.args[0] >= 1 && r.args[0] < 32) {
            FUZZ_CHECK(res.status == abi::status::invalid_param, "HB-EVT-010: vector %" PRIu64 ": status %s",
                       r.args[0], status_text(int64_t(status)));
        } else {
            FUZZ_CHECK(ok && res.value == h.evt_vector[profile_index],
                       "HB-EVT-010: status %s, previous vector %" PRIu64 ", expected %" PRIu64,
                       status_text(int64_t(status)), res.value, h.evt_vector[profile_index]);
            h.evt_vector[profile_index] = r.args[0];
        }
        break;
    case fn::dsp_count:
        FUZZ_CHECK(ok && res.value == displays, "HB-DSP-001: status %s, value %" PRIu64, status_text(int64_t(status)),
                   res.value);
        break;
    case fn::dsp_info:
        FUZZ_CHECK(ok && res.value == sizeof(abi::dsp_info), "HB-DSP-002: status %s, value %" PRIu64,
                   status_text(int64_t(status)), res.value);
        if (r.args[2] > sizeof(abi::dsp_info))
            check_unchanged_since_shadow(h, r.args[1] + sizeof(abi::dsp_info), r.args[2] - sizeof(abi::dsp_info),
                                         "HB-DSP-002: byte after the record");
        if (ok && r.args[2] >= offsetof(abi::dsp_info, height) + 4) {
            abi::dsp_info got{};
            std::memcpy(&got, h.ram() + r.args[1], offsetof(abi::dsp_info, height) + 4);
            FUZZ_CHECK(got.generation == h.dsp_generation && got.width == h.dsp_width && got.height == h.dsp_height,
                       "HB-DSP-004: info says generation %u, %ux%u; expected %" PRIu64 ", %" PRIu64 "x%" PRIu64,
                       got.generation, got.width, got.height, h.dsp_generation, h.dsp_width, h.dsp_height);
        }
        break;
    case fn::dsp_set_mode:
        if (r.args[1] <= display_max_width && r.args[2] <= display_max_height) {
            FUZZ_CHECK(ok && res.value == h.dsp_generation + 1,
                       "HB-DSP-004: %" PRIu64 "x%" PRIu64 ": status %s, generation %" PRIu64 " after %" PRIu64,
                       r.args[1], r.args[2], status_text(int64_t(status)), res.value, h.dsp_generation);
            if (ok) {
                h.dsp_generation = res.value;
                h.dsp_width = r.args[1];
                h.dsp_height = r.args[2];
            }
        } else {
            FUZZ_CHECK(res.status == abi::status::invalid_param, "HB-DSP-004: %" PRIu64 "x%" PRIu64
                       " is past the largest mode: status %s", r.args[1], r.args[2], status_text(int64_t(status)));
        }
        break;
    case fn::dsp_present:
        FUZZ_CHECK(ok || res.status == abi::status::invalid_param || res.status == abi::status::invalid_address,
                   "HB-DSP-006: status %s", status_text(int64_t(status)));
        break;
    case fn::dsp_ready:
    case fn::inp_ready:
    case fn::net_ready:
    case fn::aud_ready: {
        const uint64_t devices_of = f.svc == abi::service::dsp   ? displays
                                    : f.svc == abi::service::inp ? inputs
                                    : f.svc == abi::service::net ? interfaces
                                                                 : streams;
        const uint64_t possible = r.args[0] == 0 ? (uint64_t(1) << devices_of) - 1 : 0;
        FUZZ_CHECK(ok && (res.value & ~possible) == 0, "HB-%s-010: ready(%" PRIu64 "): status %s, set 0x%" PRIx64,
                   f.service_name, r.args[0], status_text(int64_t(status)), res.value);
        break;
    }
    case fn::dsp_next_event:
        FUZZ_CHECK(ok && (res.value == 0 || res.value == sizeof(abi::dsp_event)), "HB-DSP-011: status %s, value %" PRIu64,
                   status_text(int64_t(status)), res.value);
        break;
    case fn::inp_count:
        FUZZ_CHECK(ok && res.value == inputs, "HB-INP-001: status %s, value %" PRIu64, status_text(int64_t(status)),
                   res.value);
        break;
    case fn::inp_info:
    case fn::inp_state: {
        const uint64_t size = f.call == fn::inp_info ? sizeof(abi::inp_info) : sizeof(abi::inp_state);
        FUZZ_CHECK(ok && res.value == size, "%s.%s: status %s, value %" PRIu64 " (the record is %" PRIu64 " bytes)",
                   f.service_name, f.name, status_text(int64_t(status)), res.value, size);
        if (r.args[2] > size)
            check_unchanged_since_shadow(h, r.args[1] + size, r.args[2] - size, "INP: byte after the record");
        break;
    }
    case fn::net_count:
        FUZZ_CHECK(ok && res.value == interfaces, "HB-NET-001: status %s, value %" PRIu64, status_text(int64_t(status)),
                   res.value);
        break;
    case fn::net_info:
        FUZZ_CHECK(ok && res.value == sizeof(abi::net_info), "HB-NET-002: status %s, value %" PRIu64,
                   status_text(int64_t(status)), res.value);
        if (r.args[2] > sizeof(abi::net_info))
            check_unchanged_since_shadow(h, r.args[1] + sizeof(abi::net_info), r.args[2] - sizeof(abi::net_info),
                                         "HB-NET-002: byte after the record");
        if (ok && r.args[2] >= offsetof(abi::net_info, max_frame) + 4) {
            abi::net_info got{};
            std::memcpy(&got, h.ram() + r.args[1], offsetof(abi::net_info, max_frame) + 4);
            FUZZ_CHECK(got.max_frame == got.mtu + 14 && got.max_frame == max_frame && got.link == abi::net_link::up,
                       "HB-NET-002: mtu %u, max_frame %u, link %u", got.mtu, got.max_frame, unsigned(got.link));
        }
        break;
    case fn::net_link:
        FUZZ_CHECK(ok && res.value == abi::net_link::up, "HB-NET-003: status %s, value %" PRIu64,
                   status_text(int64_t(status)), res.value);
        break;
    case fn::net_send: {
        const bool fits = r.args[2] >= 14 && r.args[2] <= max_frame;
        FUZZ_CHECK(fits ? (ok && res.value == r.args[2]) || res.status == abi::status::again
                        : res.status == abi::status::invalid_param,
                   "HB-NET-005: a frame of %" PRIu64 " bytes: status %s, value %" PRIu64, r.args[2],
                   status_text(int64_t(status)), res.value);
        break;
    }
    case fn::net_send_vectored:
        FUZZ_CHECK((ok && res.value >= 14 && res.value <= max_frame) || res.status == abi::status::invalid_param ||
                       res.status == abi::status::invalid_address || res.status == abi::status::again,
                   "HB-NET-008: status %s, value %" PRIu64, status_text(int64_t(status)), res.value);
        break;
    case fn::aud_count:
        FUZZ_CHECK(ok && res.value == streams, "HB-AUD-001: status %s, value %" PRIu64, status_text(int64_t(status)),
                   res.value);
        break;
    case fn::aud_info:
    case fn::aud_state: {
        const uint64_t size = f.call == fn::aud_info ? sizeof(abi::aud_info) : sizeof(abi::aud_state);
        FUZZ_CHECK(ok && res.value == size, "%s.%s: status %s, value %" PRIu64, f.service_name, f.name,
                   status_text(int64_t(status)), res.value);
        if (r.args[2] > size)
            check_unchanged_since_shadow(h, r.args[1] + size, r.args[2] - size, "AUD: byte after the record");
        break;
    }
    case fn::aud_open:
        // Every value the kinds let through is offered: the queue, clamped to 64..96000.
        FUZZ_CHECK(ok && res.value >= 64 && res.value <= 96000 &&
                       (r.args[3] < 64 || r.args[3] > 96000 || res.value == r.args[3]),
                   "HB-AUD-003: queue %" PRIu64 ": status %s, value %" PRIu64, r.args[3],
                   status_text(int64_t(status)), res.value);
        break;
    case fn::aud_write:
        FUZZ_CHECK((ok && res.value % 2 == 0 && res.value <= r.args[2]) ||
                       res.status == abi::status::invalid_param || res.status == abi::status::again,
                   "HB-AUD-004: %" PRIu64 " bytes: status %s, value %" PRIu64, r.args[2],
                   status_text(int64_t(status)), res.value);
        break;
    case fn::net_recv:  // nobody else is on the segment: nothing arrives
    case fn::net_peek:
        FUZZ_CHECK(ok && res.value == 0, "HB-NET-009: %s: status %s, value %" PRIu64, f.name,
                   status_text(int64_t(status)), res.value);
        break;
    case fn::inp_read:  // nothing feeds the devices: their queues stay empty
        FUZZ_CHECK(ok && res.value == 0, "HB-INP-005: status %s, value %" PRIu64, status_text(int64_t(status)),
                   res.value);
        break;
    default: break;  // a function added to the table after this target: the generic checks only
    }
    if (f.call != fn::power_shutdown && f.call != fn::power_reboot)
        FUZZ_CHECK(res.request.what == machine_request::kind::none, "a machine request (%d) from %s.%s",
                   int(res.request.what), f.service_name, f.name);
}

void run_call(harness& h, size_t profile_index, const call_request& r)
{
    const hbvm::profile& p = h.profiles[profile_index];
    const prediction expect = model(p, r);
    h.reported_writes.clear();
    std::vector<range> writable;  // the out buffers the call may write
    if (expect.reaches_handler)
        for (unsigned i = 0; i + 1 < abi::max_args; ++i)
            if (expect.function->args[i] == abi::arg_kind::out_buffer && r.args[i + 1] != 0)
                writable.push_back({r.args[i], r.args[i + 1]});

    for (const range& w : writable)
        h.protect(w, PROT_READ | PROT_WRITE);
    const call_result res = h.dispatchers[profile_index]->dispatch(r);
    const int64_t status = int64_t(res.status);

    // (a), (b)
    FUZZ_CHECK(abi::is_spec_status(status), "HB-STS-001: status %" PRId64 " is not a spec status", status);
    FUZZ_CHECK(res.status == abi::status::success || res.value == 0,
               "HB-CALL-004: status %s with value 0x%" PRIx64 " (must be 0)", status_text(status), res.value);

    // (c)
    if (!expect.reaches_handler) {
        FUZZ_CHECK(res.status == expect.status, "spec 2.1 check order: expected %s, got %s (profile %s)",
                   abi::status_name(expect.status), status_text(status), p.name.c_str());
        FUZZ_CHECK(res.request.what == machine_request::kind::none,
                   "HB-CALL-005: a call answered %s carries a machine request", abi::status_name(res.status));
        FUZZ_CHECK(h.reported_writes.empty(), "HB-CALL-005: a call answered %s reported a guest write",
                   abi::status_name(res.status));
    } else {
        check_function(h, profile_index, p, *expect.function, r, res);
        // on_guest_write: exactly the non-empty out buffers, after SUCCESS or
        // IO_ERROR (a handler may have written part of them before failing).
        const std::vector<range> expected_reports =
            res.status == abi::status::success || res.status == abi::status::io_error ? writable
                                                                                     : std::vector<range>{};
        bool same = expected_reports.size() == h.reported_writes.size();
        for (size_t i = 0; same && i < expected_reports.size(); ++i)
            same = expected_reports[i].address == h.reported_writes[i].address &&
                   expected_reports[i].length == h.reported_writes[i].length;
        const range first = h.reported_writes.empty() ? range{0, 0} : h.reported_writes[0];
        FUZZ_CHECK(same,
                   "on_guest_write reported %zu range(s) (first: 0x%" PRIx64 ", %" PRIu64 " bytes), expected %zu "
                   "(the non-empty out buffers%s)",
                   h.reported_writes.size(), first.address, first.length, expected_reports.size(),
                   res.status == abi::status::success ? "" : ": none, the call failed");
    }

    // (d): the shadow takes in the out buffers; everything else must be as it was.
    // With RAM read-only outside the out buffers' pages only those pages can differ
    // (a write anywhere else faults at the culprit); without, compare all of RAM.
    for (const range& w : writable) {
        std::memcpy(h.shadow.data() + w.address, h.ram() + w.address, w.length);
        h.dirty.push_back(w);
    }
    if (h.protection) {
        for (const range& w : writable) {
            const range pages = page_span(w);
            check_unchanged_since_shadow(h, pages.address, pages.length,
                                         "HB-GEN-005: write outside the call's out buffers");
            h.protect(w, PROT_READ);
        }
    } else {
        check_unchanged_since_shadow(h, 0, ram_size, "HB-GEN-005: write outside the call's out buffers");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    harness& h = the_harness();
    h.reset();
    reader in(data, size);
    const size_t profile_index = in.u8() % h.profiles.size();
    for (size_t i = 0; i < max_calls_per_input && !in.empty(); ++i) {
        const call_request r = decode_call(in);
        current_request = &r;
        current_index = i;
        run_call(h, profile_index, r);
        current_request = nullptr;
    }
    return 0;
}
