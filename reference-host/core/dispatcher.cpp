#include "core/dispatcher.hpp"

#include "core/error.hpp"
#include "policy/audit.hpp"

#include <chrono>
#include <stdexcept>

namespace hbvm {

namespace {

// What in the profile breaks the spec, or "" (HB-BASE-007: BASE is always offered
// and none of its calls is denied).
std::string profile_problem(const profile& p)
{
    if (!p.offers(abi::service::base))
        return "does not offer BASE, which every host must offer (HB-BASE-007)";
    for (const abi::function_desc& f : abi::functions)
        if (f.svc == abi::service::base && p.denies(f.call))
            return std::string("denies base.") + f.name + ", which no host may deny (HB-BASE-007)";
    return {};
}

}  // namespace

// A zero-length buffer may name any address (HB-GEN-004), so it gets an empty view
// instead of a view of guest memory.
std::span<const std::byte> call::in_buffer(unsigned index) const
{
    if (request_.args[index + 1] == 0)
        return {};
    return *memory_.read(guest_address{request_.args[index]}, request_.args[index + 1]);
}

std::span<std::byte> call::out_buffer(unsigned index) const
{
    if (request_.args[index + 1] == 0)
        return {};
    return *memory_.write(guest_address{request_.args[index]}, request_.args[index + 1]);
}

std::optional<std::span<const std::byte>> call::guest_range_to_read(uint64_t address, uint64_t length) const
{
    if (length == 0)
        return std::span<const std::byte>{};
    return memory_.read(guest_address{address}, length);
}

std::optional<std::span<std::byte>> call::guest_range_to_write(uint64_t address, uint64_t length) const
{
    if (length == 0)
        return std::span<std::byte>{};
    auto range = memory_.write(guest_address{address}, length);
    if (range && written)
        written->push_back({address, length});
    return range;
}

std::span<const std::byte> call::in_record(unsigned index) const
{
    return *memory_.read(guest_address{request_.args[index]}, kinds_[index].record_size);
}

std::span<std::byte> call::out_record(unsigned index) const
{
    return *memory_.write(guest_address{request_.args[index]}, kinds_[index].record_size);
}

dispatcher::dispatcher(guest_memory& memory, const profile& profile, std::span<const abi::function_desc> table,
                       std::span<const abi::arg_kind_desc> kinds)
    : memory_(memory), profile_(profile), table_(table), kinds_(kinds), entries_(table.size())
{
    if (table.size() >= 128)
        throw std::logic_error("dispatcher: direct_ holds table indices in int8_t");
    if (const char* problem = abi::function_table_problem(table, table.size(), kinds.data(), kinds.size()))
        throw std::logic_error(std::string("dispatcher: malformed ABI table: ") + problem);
    if (const std::string problem = profile_problem(profile); !problem.empty())
        throw error(exit_status::host_failure, "profile '" + profile.name + "' " + problem);
    direct_.fill(-1);
    for (size_t i = 0; i < table_.size(); ++i) {
        const abi::function_desc& f = table_[i];
        if (uint16_t(f.svc) < direct_services && f.id < direct_functions)
            direct_[uint16_t(f.svc) * direct_functions + f.id] = int8_t(i);
        entry& e = entries_[i];
        e.offered = profile_.offers(f.svc);
        e.denied = profile_.denies(f.call);
        e.rule = e.offered ? profile_.rule_for(f.call) : profile_.rule_for(f.svc);
        if (const hbvm::rate_limit* r = profile_.rate_of(f.call)) {
            e.rate = r->per_second;
            e.let_through.assign(r->per_second, 0);
        }
        for (unsigned a = 0; a < abi::max_args; ++a) {
            e.args[a] = kinds_[abi::kind_index(kinds_.data(), kinds_.size(), f.args[a])];
            e.writes_memory = e.writes_memory || abi::writes_guest_memory(e.args[a].cls);
            e.has_handles = e.has_handles || e.args[a].cls == abi::arg_class::handle;
        }
        if (e.has_handles)
            e.count_function = int(abi::object_count_function(table_, table_.size(), f.svc));
    }
}

uint64_t dispatcher::now() const
{
    return now_ns ? now_ns()
                  : uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count());
}

// Step 6 of the check order: a call of a limited function is let through when
// fewer than `rate` calls of it were let through in the second before it (a
// sliding window, spec 5.8); one refused with AGAIN does not count.
bool dispatcher::within_rate(entry& e, uint64_t now)
{
    uint64_t& oldest = e.let_through[e.oldest];
    // The ring holds the times of the last `rate` calls let through (0: none yet).
    if (oldest != 0 && now - oldest < 1'000'000'000)
        return false;
    oldest = now == 0 ? 1 : now;
    e.oldest = (e.oldest + 1) % e.let_through.size();
    return true;
}

int dispatcher::table_index(uint64_t call) const
{
    const uint64_t svc = abi::call_service(call), fn = abi::call_function(call);
    if (svc < direct_services && fn < direct_functions)
        return direct_[svc * direct_functions + fn];
    for (size_t i = 0; i < table_.size(); ++i)  // IDs beyond the direct table
        if (uint64_t(table_[i].call) == call)
            return int(i);
    return -1;
}

void dispatcher::add(abi::function function, call_handler handler)
{
    const int i = table_index(uint64_t(function));
    if (i < 0)
        throw std::logic_error("dispatcher: function missing from the ABI table");
    if (entries_[i].handler)
        throw std::logic_error(std::string("dispatcher: two handlers for ") + table_[i].service_name + "." +
                               table_[i].name);
    entries_[i].handler = std::move(handler);
}

bool dispatcher::offers(abi::service service) const
{
    for (size_t i = 0; i < table_.size(); ++i)
        if (table_[i].svc == service && entries_[i].offered && entries_[i].handler)
            return true;
    return false;
}

uint32_t dispatcher::service_version(uint64_t service_id) const
{
    const abi::service_desc* s = abi::find_service(service_id);
    return s && offers(s->id) ? s->version : 0;
}

uint64_t dispatcher::permitted_functions(uint64_t service_id) const
{
    uint64_t bits = 0;
    for (size_t i = 0; i < table_.size(); ++i)
        if (uint64_t(table_[i].svc) == service_id && table_[i].id < 64 && entries_[i].offered &&
            entries_[i].handler && !entries_[i].denied)
            bits |= uint64_t(1) << table_[i].id;
    return bits;
}

uint64_t dispatcher::rate_limit(uint64_t call) const
{
    if (call & abi::call_reserved_mask)
        return 0;
    const int i = table_index(call);
    if (i < 0 || !entries_[i].offered || !entries_[i].handler || entries_[i].denied)
        return 0;
    return entries_[i].rate;
}

uint32_t dispatcher::service_bitmap() const
{
    uint32_t bits = 0;
    for (const abi::service_desc& s : abi::services)
        if (offers(s.id))
            bits |= 1u << uint16_t(s.id);
    return bits;
}

// How many objects the handles of entry `e`'s service can name: what the
// service's object_count function answers now (0 when it cannot answer).
uint64_t dispatcher::object_count(const entry& e)
{
    const entry& counter = entries_[size_t(e.count_function)];
    if (!counter.handler || !counter.offered || counter.denied)
        return 0;
    const abi::function_desc& f = table_[size_t(e.count_function)];
    const call_request count_request{uint64_t(f.call), {}};
    const call_result r = counter.handler(call(f, count_request, memory_, counter.args));
    return r.status == abi::status::success ? r.value : 0;
}

// Steps 4 and 5 of the check order (spec 2.1, HB-CALL-011): every argument
// against its kind first, then every buffer and record against guest RAM.
abi::status dispatcher::check_arguments(const entry& e, const call_request& request)
{
    uint64_t objects = ~uint64_t(0);
    for (unsigned i = 0; i < abi::max_args; ++i) {
        const abi::arg_kind_desc& k = e.args[i];
        if (!abi::argument_acceptable(k, request.args[i]))
            return abi::status::invalid_param;
        if (k.cls == abi::arg_class::handle) {
            if (objects == ~uint64_t(0))
                objects = object_count(e);
            if (request.args[i] >= objects)
                return abi::status::invalid_param;
        }
    }
    for (unsigned i = 0; i < abi::max_args; ++i) {
        const abi::arg_kind_desc& k = e.args[i];
        // A zero-length buffer is never touched, so its address is not checked (HB-GEN-004).
        if (abi::is_buffer(k.cls) && i + 1 < abi::max_args && request.args[i + 1] != 0 &&
            !memory_.contains(guest_address{request.args[i]}, request.args[i + 1]))
            return abi::status::invalid_address;
        if (abi::is_record(k.cls) && !memory_.contains(guest_address{request.args[i]}, k.record_size))
            return abi::status::invalid_address;
    }
    return abi::status::success;
}

call_result dispatcher::dispatch(const call_request& request)
{
    last_rule_ = &no_rule_;
    if (request.call & abi::call_reserved_mask)
        return fail(abi::status::invalid_param);
    const int index = table_index(request.call);
    if (index < 0 || !entries_[index].handler)
        return fail(abi::status::not_supported);
    entry& e = entries_[index];
    if (!e.offered) {
        last_rule_ = &e.rule;
        return fail(abi::status::not_supported);
    }
    const abi::function_desc* f = &table_[index];
    if (e.denied && !deviate.denied_calls_run) {
        last_rule_ = &e.rule;
        return fail(abi::status::denied);
    }

    if (const abi::status s = check_arguments(e, request); s != abi::status::success)
        return fail(s);
    access_audit* audit = access_audit::active();
    // One reading for the rate and the audit, so the two count the same second.
    const uint64_t time = e.rate != 0 || audit ? now() : 0;
    if (e.rate != 0 && !deviate.rates_ignored && !within_rate(e, time)) {
        last_rule_ = &e.rule;
        return fail(abi::status::again);
    }

    if (audit)
        audit->call_served(f->call, time);
    std::vector<std::pair<uint64_t, uint64_t>> indirect_writes;
    call c(*f, request, memory_, e.args);
    c.written = &indirect_writes;
    call_result result = e.handler(c);
    if (e.denied) {  // only under policy-denied-runs: the effect happened, the answer says it did not
        last_rule_ = &e.rule;
        result.status = abi::status::denied;
        result.value = 0;
        return result;
    }
    const int64_t code = int64_t(result.status);
    // A handler may answer what its function's error table lists, and FAILED; a
    // function that does not return answers SUCCESS only when it stops or resets
    // the machine, so that the guest never sees it.
    const bool stops_machine = result.request.what == machine_request::kind::power_off ||
                               result.request.what == machine_request::kind::reset;
    const bool listed = abi::contains(f->statuses, result.status) || result.status == abi::status::failed ||
                        (result.status == abi::status::success && stops_machine);
    if (!abi::is_spec_status(code) || !listed) {
        if (on_host_bug)
            on_host_bug(std::string("handler of ") + f->service_name + "." + f->name + " returned status " +
                        (abi::is_spec_status(code) ? std::string(abi::status_name(result.status))
                                                   : std::to_string(code)) +
                        (abi::is_spec_status(code) ? ", which its error table in the spec does not list"
                                                   : ", which the spec does not define"));
        return fail(abi::status::failed);
    }
    // Guest memory the handler wrote is reported whatever it answered: a
    // transfer that failed half way (IO_ERROR) may have filled part of it, and
    // code cached for that memory must go all the same.
    if (on_guest_write)
        for (const auto& [address, length] : indirect_writes)
            on_guest_write(address, length);
    const bool may_have_written = result.status == abi::status::success || result.status == abi::status::io_error;
    if (result.status != abi::status::success)
        result.value = 0;
    if (may_have_written && e.writes_memory && on_guest_write) {
        for (unsigned i = 0; i < abi::max_args; ++i) {
            const abi::arg_kind_desc& k = e.args[i];
            if (k.cls == abi::arg_class::out_buffer && i + 1 < abi::max_args && request.args[i + 1] != 0)
                on_guest_write(request.args[i], request.args[i + 1]);
            if (k.cls == abi::arg_class::out_record)
                on_guest_write(request.args[i], k.record_size);
        }
    }
    return result;
}

}  // namespace hbvm
