// CONSOLE service (spec chapter 6).
//
// Input and output are byte-exact. The conformance driver feeds the host's
// stdin with exactly `input_prefix` followed by the 256 byte values 0x00-0xFF,
// and compares the host's raw stdout with the bytes an EXPECT-CONSOLE-BYTES line
// names: `output_prefix` followed by the 256 byte values.
#include "hostile_buffers.hpp"
#include "image.hpp"

namespace conformance {

namespace {

using fn = hb::abi::function;

constexpr char input_prefix[] = "HyperBIOS console input:";
constexpr size_t input_prefix_length = sizeof input_prefix - 1;
constexpr size_t expected_input_length = input_prefix_length + 256;
static_assert(expected_input_length == 280, "the driver feeds 24 + 256 bytes");

constexpr char output_prefix[] = "HyperBIOS console output, every byte value follows:";
constexpr size_t output_prefix_length = sizeof output_prefix - 1;

// How long the image waits for the driver's input to arrive. read never waits
// (HB-CON-003), so the image polls; a host that drops input fails after this.
constexpr uint64_t input_wait_ns = 10'000'000'000ull;
// Without TIME the wait is bounded by a count of polls instead.
constexpr uint64_t input_wait_polls = 5'000'000;

constexpr uint8_t untouched_fill = 0xC3;
alignas(16) uint8_t arena[256];
// Room for the expected input, for what a faulty host may add to it, and guard
// bytes after the largest read.
alignas(16) uint8_t input[1024];

// CONSOLE.read with every argument register an output as well: the compiler
// keeps nothing in them across the call, so a host that changes one (HB-CALL-002's
// failure, found by the calling image) cannot make this image's checks of
// read misjudge what the call did.
raw_result console_read(uint64_t address, uint64_t length)
{
    uint64_t rax = uint64_t(fn::console_read), rdx = hb::detect().port, rdi = address, rsi = length, rcx = 0;
    register uint64_t r8 asm("r8") = 0;
    register uint64_t r9 asm("r9") = 0;
    asm volatile("outl %%eax, %%dx"
                 : "+a"(rax), "+d"(rdx), "+D"(rdi), "+S"(rsi), "+c"(rcx), "+r"(r8), "+r"(r9)
                 :
                 : "memory");
    return {int64_t(rax), rdx};
}

uint8_t expected_input(size_t i)
{
    return i < input_prefix_length ? uint8_t(input_prefix[i]) : uint8_t(i - input_prefix_length);
}

// "EXPECT-CONSOLE-BYTES <requirement> <hex>": these exact bytes must appear in
// the host's stdout. Longer than a report line, so written in pieces.
void expect_console_bytes(const char* requirement, const uint8_t* bytes, size_t length)
{
    line head;
    head.put("EXPECT-CONSOLE-BYTES ").put(requirement).put(' ');
    hb::fallback::debug_write(head.c_str(), head.size());
    for (size_t i = 0; i < length; ++i) {
        const char pair[2] = {"0123456789abcdef"[bytes[i] >> 4], "0123456789abcdef"[bytes[i] & 0xF]};
        hb::fallback::debug_write(pair, 2);
    }
    hb::fallback::debug_write("\n", 1);
}

void check_output()
{
    // What reaches the console can only be seen outside: the driver checks it.
    const char first[] = "HyperBIOS conformance: console line one\n";
    const char second[] = "HyperBIOS conformance: console line two\n";
    expect_console("HB-CON-001", "HyperBIOS conformance: console line one");
    expect_console("HB-CON-002", "HyperBIOS conformance: console line one\nHyperBIOS conformance: console line two");
    auto w1 = hb::console::write(first, sizeof first - 1);
    auto w2 = hb::console::write(second, sizeof second - 1);
    check("HB-CON-001", w1.ok() && w1.value == sizeof first - 1 && w2.ok() && w2.value == sizeof second - 1,
          "write returns SUCCESS and the buffer's length");

    // Every byte value, NUL, LF, CR, ESC and 0x80-0xFF included, must reach
    // stdout unchanged: no line-ending translation, nothing dropped.
    static uint8_t all_bytes[output_prefix_length + 256];
    for (size_t i = 0; i < output_prefix_length; ++i)
        all_bytes[i] = uint8_t(output_prefix[i]);
    for (size_t i = 0; i < 256; ++i)
        all_bytes[output_prefix_length + i] = uint8_t(i);
    expect_console_bytes("HB-CON-001", all_bytes, sizeof all_bytes);
    auto w3 = hb::console::write(all_bytes, sizeof all_bytes);
    check("HB-CON-001", w3.ok() && w3.value == sizeof all_bytes,
          "write of all 256 byte values returns SUCCESS and the buffer's length");

    auto none = hb::console::write(static_cast<const void*>(first), 0);
    check("HB-GEN-004", none.ok() && none.value == 0, "write of zero bytes succeeds with 0");
    raw_result far = raw_call(fn::console_write, ~0ull - 3, 0);
    check("HB-GEN-004", far.code() == hb::status::success && far.value == 0,
          "write of zero bytes at an impossible address succeeds");
}

void check_hostile_buffers()
{
    hostile_buffer hostile[hostile_buffer_count];
    const size_t n = hostile_buffers(ram_end, uint64_t(arena), hostile);
    if (ram_end == 0)
        skip("HB-GEN-003", "console buffers at or past the end of RAM are INVALID_ADDRESS",
             "no memory size from the boot loader");
    for (size_t i = 0; i < n; ++i) {
        for (const bool is_read : {false, true}) {
            raw_result r = raw_call(is_read ? fn::console_read : fn::console_write, hostile[i].address,
                                    hostile[i].length);
            line d;
            d.put(is_read ? "read into " : "write of ").put(hostile[i].what).put(" is INVALID_ADDRESS");
            check_status("HB-GEN-003", hb::result<uint64_t>{r.code(), 0}, hb::status::invalid_address, d.c_str());
        }
    }
}

// input_state (since 0.5): open while the driver's bytes are on their way, ended
// once they are all read and the driver has closed the host's stdin (it does,
// right after writing them). Called before check_input reads anything.
bool input_state_offered()
{
    const auto version = hb::base::spec_version();
    return version.ok() && version.value >= hb::abi::make_version(0, 5);
}

// What input_state said before anything was read: ended is a promise that no
// byte will arrive, which the bytes read afterwards may break (with the
// driver's input, they do; with a host whose stdin is /dev/null, none come).
raw_result state_before_reading;

void check_input_state_before_reading()
{
    if (!input_state_offered()) {
        skip("HB-CON-006", "input_state is open while input is waiting",
             "not advertised: the host implements a version before 0.5, which has no input_state");
        return;
    }
    state_before_reading = raw_call(uint64_t(fn::console_input_state));
    line why;
    why.put("status ").put(hb::abi::status_name(state_before_reading.code()));
    check("HB-CON-006",
          state_before_reading.code() == hb::status::success &&
              (state_before_reading.value == hb::abi::console_input_state::open ||
               state_before_reading.value == hb::abi::console_input_state::ended),
          "input_state returns SUCCESS and open or ended", why.c_str());
}

// After check_input: an input said to have ended must not have delivered bytes.
void check_input_state_promise(size_t bytes_read)
{
    if (!input_state_offered() || state_before_reading.code() != hb::status::success)
        return;
    const bool said_ended = state_before_reading.value == hb::abi::console_input_state::ended;
    line why;
    why.put("input_state said ended before reading, then read delivered ").dec(bytes_read).put(" bytes");
    check("HB-CON-006", !(said_ended && bytes_read > 0),
          "input_state is open, not ended, while input is waiting (the driver's bytes)", why.c_str());
}

void check_input_state_at_the_end()
{
    if (!input_state_offered())
        return;
    // The host learns of the end when it looks; the spec gives it a second.
    constexpr uint64_t patience_ns = 2'000'000'000ull;
    const auto start = hb::time::monotonic_ns();
    raw_result r{};
    uint64_t polls = 0;
    for (;;) {
        uint8_t scratch[16];
        const raw_result left = console_read(uint64_t(&scratch[0]), sizeof scratch);  // nothing more should come
        r = raw_call(uint64_t(fn::console_input_state));
        if (r.code() != hb::status::success || r.value == hb::abi::console_input_state::ended ||
            left.code() != hb::status::success || left.value != 0)
            break;
        const auto now = hb::time::monotonic_ns();
        if (start.ok() ? (!now.ok() || now.value - start.value >= patience_ns) : ++polls >= input_wait_polls)
            break;
    }
    line why;
    why.put("status ").put(hb::abi::status_name(r.code())).put(", value ").hex(r.value).put(" after 2 s");
    check("HB-CON-006", r.code() == hb::status::success && r.value == hb::abi::console_input_state::ended,
          "input_state is ended within a second once every input byte was read and the input was closed",
          why.c_str());
    uint8_t scratch[16];
    const raw_result after = console_read(uint64_t(&scratch[0]), sizeof scratch);
    const raw_result again = raw_call(uint64_t(fn::console_input_state));
    check("HB-CON-006",
          again.code() == hb::status::success && again.value == hb::abi::console_input_state::ended &&
              after.code() == hb::status::success && after.value == 0,
          "an ended input stays ended, and read returns 0");
}


// Polls read until the driver's bytes have arrived or the wait is over, with
// buffers of several lengths, checking after each call that no byte beyond the
// returned count was written; then compares what arrived with what was fed.
void check_input()
{
    for (uint8_t& b : input)
        b = untouched_fill;
    constexpr size_t guard = 16;
    constexpr size_t asks[] = {1, 7, 64, 300};
    size_t got = 0, calls = 0;
    bool statuses_ok = true, counts_ok = true, beyond_untouched = true;
    line status_detail, beyond_detail;

    // The wait is measured to the latest reading so far: a clock that steps back
    // (HB-TIME-001's failure, not this one's) cannot end it early.
    const auto start = hb::time::monotonic_ns();
    uint64_t latest = start.value;
    uint64_t polls = 0;
    while (got < expected_input_length) {
        if (start.ok()) {
            const auto now = hb::time::monotonic_ns();
            if (!now.ok())
                break;
            latest = now.value > latest ? now.value : latest;
            if (latest - start.value >= input_wait_ns)
                break;
        } else if (polls >= input_wait_polls) {
            break;
        }
        ++polls;
        size_t ask = asks[calls++ % (sizeof asks / sizeof asks[0])];
        if (ask > sizeof input - guard - got)
            ask = sizeof input - guard - got;
        if (ask == 0)
            break;
        const raw_result r = console_read(uint64_t(&input[got]), ask);
        if (r.code() != hb::status::success) {
            statuses_ok = false;
            status_detail.put("status ").put(hb::abi::status_name(r.code())).put(" after ").dec(got).put(" bytes");
            break;
        }
        if (r.value > ask) {
            counts_ok = false;
            break;
        }
        for (size_t i = got + r.value; i < got + ask; ++i)
            if (input[i] != untouched_fill && beyond_untouched) {
                beyond_untouched = false;
                beyond_detail.put("a read of ").dec(ask).put(" bytes returned ").dec(r.value).put(
                    " and wrote byte ").dec(i - got);
            }
        got += r.value;
    }
    for (size_t i = got; i < sizeof input; ++i)
        if (input[i] != untouched_fill && beyond_untouched) {
            beyond_untouched = false;
            beyond_detail.put("byte ").dec(i).put(" past the ").dec(got).put(" bytes read was written");
        }

    check("HB-CON-003", statuses_ok && counts_ok, "read returns SUCCESS and at most the buffer's length",
          statuses_ok ? "a count larger than the buffer" : status_detail.c_str());
    check("HB-CON-004", beyond_untouched, "read writes no byte beyond the count it returns", beyond_detail.c_str());

    size_t first_difference = 0;
    while (first_difference < got && first_difference < expected_input_length &&
           input[first_difference] == expected_input(first_difference))
        ++first_difference;
    line why;
    if (got == 0) {
        why.put("no input arrived in 10 s; the conformance driver feeds \"").put(input_prefix).put(
            "\" and the bytes 0x00-0xFF on the host's stdin");
    } else if (first_difference < got && first_difference < expected_input_length) {
        why.put("byte ").dec(first_difference).put(" is ").hex(input[first_difference], 2).put(", expected ").hex(
            expected_input(first_difference), 2);
    } else {
        why.put("got ").dec(got).put(" bytes, expected ").dec(expected_input_length);
    }
    check("HB-CON-005", got == expected_input_length && first_difference == expected_input_length,
          "the bytes fed to the console arrive exactly: all 256 byte values, none translated, dropped or added",
          why.c_str());
    check_input_state_promise(got);

    auto zero = hb::console::read(&arena[0], 0);
    check("HB-CON-003", zero.ok() && zero.value == 0, "read of zero bytes succeeds with 0");
}

}  // namespace

void run_checks()
{
    check_output();
    check_hostile_buffers();
    check_input_state_before_reading();
    check_input();
    check_input_state_at_the_end();
}

}  // namespace conformance
