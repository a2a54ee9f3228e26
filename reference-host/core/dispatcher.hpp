// The dispatcher: decodes a call once, applies the profile, checks every argument
// against its kind in the ABI table (reserved bits, ranges, enumerations, handles,
// buffer and record bounds) in the order of HB-CALL-011, runs the service handler
// and sanitises the status so that only codes of the function's error table reach
// the guest.
#ifndef HBVM_CORE_DISPATCHER_HPP
#define HBVM_CORE_DISPATCHER_HPP

#include "core/guest_memory.hpp"
#include "policy/profile.hpp"

#include <hyperbios/abi.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <optional>
#include <utility>
#include <vector>

namespace hbvm {

namespace abi = hyperbios::abi;

// The registers of one call as the guest left them. The accelerators read them
// in this order (accel/*.cpp read_call_registers, core/machine.cpp hypercall);
// the assertion turns a change of the table's order into a compile error here.
struct call_request {
    uint64_t call;                             // RAX
    std::array<uint64_t, abi::max_args> args;  // RDI, RSI, RCX, R8, R9
};
static_assert(abi::arguments_in_registers(abi::gpr::rdi, abi::gpr::rsi, abi::gpr::rcx, abi::gpr::r8, abi::gpr::r9) &&
                  abi::call_word_register == abi::gpr::rax,
              "call_request and its producers follow the ABI table's register order");

// What a call asks of the machine beyond its result: the machine-control interface
// core offers every service module. The machine acts once the call returns, so a
// call that powers off or resets never returns to the guest; a handler stays free
// of side effects on the machine, and the dispatcher's result says all a call did.
struct machine_request {
    enum class kind {
        none,
        power_off,     // end the run with `exit_code`: the guest shut down
        halt_forever,  // end the run: the guest waits for what can never come (spec 8.5 "halted")
        reset,         // boot the image again (every module's reset hook runs first)
        host_failure,  // the host cannot serve the call; the VM stops
    };
    kind what = kind::none;
    uint8_t exit_code = 0;  // power_off: the process exit status
    std::string detail;     // the closing diagnostic line (power_off, host_failure) or the reset's cause
};

struct call_result {
    abi::status status = abi::status::success;
    uint64_t value = 0;
    machine_request request{};
};

inline call_result succeed(uint64_t value = 0) { return {abi::status::success, value, {}}; }
inline call_result fail(abi::status status) { return {status, 0, {}}; }
inline call_result request_power_off(uint8_t exit_code, std::string why)
{
    return {abi::status::success, 0, {machine_request::kind::power_off, exit_code, std::move(why)}};
}
inline call_result request_halt_forever(std::string why)
{
    return {abi::status::success, 0, {machine_request::kind::halt_forever, 0, std::move(why)}};
}
inline call_result request_reset(std::string why)
{
    return {abi::status::success, 0, {machine_request::kind::reset, 0, std::move(why)}};
}
inline call_result host_failure(std::string what)
{
    return {abi::status::failed, 0, {machine_request::kind::host_failure, 0, std::move(what)}};
}

// What a handler sees: the decoded call with its buffers already checked.
class call {
public:
    // `kinds`: the kinds of the function's max_args arguments, as the dispatcher
    // checked them (record sizes come from there, never from the handler).
    call(const abi::function_desc& function, const call_request& request, guest_memory& memory,
         const abi::arg_kind_desc* kinds)
        : function_(function), request_(request), memory_(memory), kinds_(kinds)
    {
    }

    const abi::function_desc& function() const { return function_; }
    uint64_t arg(unsigned index) const { return request_.args[index]; }

    // The buffer named by argument `index` (its length is argument index + 1).
    // The dispatcher has verified it lies inside guest RAM.
    std::span<const std::byte> in_buffer(unsigned index) const;
    std::span<std::byte> out_buffer(unsigned index) const;

    // The record named by argument `index`: its kind's record_size bytes, which
    // the dispatcher has verified lie inside guest RAM.
    std::span<const std::byte> in_record(unsigned index) const;
    std::span<std::byte> out_record(unsigned index) const;

    // Guest memory a call names indirectly (the segments of a vectored transfer,
    // read from a list in guest memory): nullopt when the range is not entirely
    // in guest RAM, for the handler to answer INVALID_ADDRESS. A zero length is
    // an empty span at any address. Ranges written are reported after a
    // successful call like out buffers (dispatcher::on_guest_write).
    std::optional<std::span<const std::byte>> guest_range_to_read(uint64_t address, uint64_t length) const;
    std::optional<std::span<std::byte>> guest_range_to_write(uint64_t address, uint64_t length) const;

    // Set by the dispatcher: where guest_range_to_write records the ranges.
    std::vector<std::pair<uint64_t, uint64_t>>* written = nullptr;

private:
    const abi::function_desc& function_;
    const call_request& request_;
    guest_memory& memory_;
    const abi::arg_kind_desc* kinds_;
};

using call_handler = std::function<call_result(const call&)>;

class dispatcher {
public:
    // `table` and `kinds` are the ABI table the calls are decoded with:
    // abi::functions and abi::arg_kinds, or synthetic ones in unit tests (a
    // malformed table throws std::logic_error). Throws hbvm::error when the
    // profile breaks a rule of the spec (HB-BASE-007: BASE is offered and never
    // denied).
    dispatcher(guest_memory& memory, const profile& profile,
               std::span<const abi::function_desc> table = abi::functions,
               std::span<const abi::arg_kind_desc> kinds = abi::arg_kinds);
    dispatcher(const dispatcher&) = delete;  // last_rule_ points into the object's own entries
    dispatcher& operator=(const dispatcher&) = delete;

    // Registers the handler of `function`; each function at most once.
    void add(abi::function function, call_handler handler);

    call_result dispatch(const call_request& request);

    // A service is offered when the profile offers it and its functions have handlers.
    bool offers(abi::service service) const;
    uint32_t service_version(uint64_t service_id) const;  // 0 when not offered
    uint32_t service_bitmap() const;                      // bit n: service n offered
    // BASE.permitted_functions: bit n set when function n of the service is
    // offered and the profile lets it through step 3 (0 for a service not offered).
    uint64_t permitted_functions(uint64_t service_id) const;
    // BASE.rate_limit: how many calls a second the profile lets through of `call`
    // (0: no limit, or a call word that names no permitted function).
    uint64_t rate_limit(uint64_t call) const;

    // The profile's rule behind the last answer of dispatch(), for --trace
    // ("profile ps3 (ps3.toml:9) denies power.reboot"), or "" when the answer was
    // not the profile's.
    const std::string& last_rule() const { return *last_rule_; }

    // The clock the rate limits count with (nanoseconds, monotonic); tests set it.
    std::function<uint64_t()> now_ns;

    // Deliberate deviations from the profile, set only by hbvm --inject-fault.
    struct deviations {
        bool denied_calls_run = false;  // policy-denied-runs: the handler runs, the answer is DENIED
        bool rates_ignored = false;     // policy-rate-unapplied
    };
    deviations deviate;

    // Called when a handler returns a status the spec does not define, or one its
    // function's error table does not list (a host bug); the guest receives FAILED
    // instead.
    std::function<void(const std::string&)> on_host_bug;

    // Called after a successful call for each out buffer the host wrote, so that an
    // accelerator caching guest code can drop what it holds for that range.
    std::function<void(uint64_t address, uint64_t length)> on_guest_write;

private:
    // Per function of the ABI table, decided once: calls are on the guest's hot path.
    struct entry {
        call_handler handler;
        bool offered = false;  // the profile offers the service
        bool denied = false;   // the profile refuses this call
        std::string rule;      // the profile's rule that refuses or limits it ("" when none)
        uint32_t rate = 0;     // calls let through a second at most (step 6); 0: no limit
        std::vector<uint64_t> let_through;  // a ring: when the last `rate` calls were let through
        size_t oldest = 0;                  // the ring's oldest entry
        bool writes_memory = false;
        bool has_handles = false;
        int count_function = -1;      // index of the service's object_count function, for handles
        abi::arg_kind_desc args[abi::max_args]{};  // the kinds of the arguments, resolved once
    };
    abi::status check_arguments(const entry& e, const call_request& request);
    bool within_rate(entry& e, uint64_t now);
    uint64_t now() const;
    uint64_t object_count(const entry& e);
    // Call words with service < 32 and function < 32 index this directly (-1: none).
    static constexpr unsigned direct_services = 32, direct_functions = 32;
    int table_index(uint64_t call) const;

    guest_memory& memory_;
    const profile& profile_;
    std::span<const abi::function_desc> table_;
    std::span<const abi::arg_kind_desc> kinds_;
    std::vector<entry> entries_;  // one per function of table_
    std::array<int8_t, direct_services * direct_functions> direct_;
    const std::string no_rule_;
    const std::string* last_rule_ = &no_rule_;
};

}  // namespace hbvm

#endif
