#include "core/dispatcher.hpp"

#include "core/error.hpp"

#include <stdexcept>

namespace hbvm {

namespace {

bool is_buffer(abi::arg_kind kind) { return kind == abi::arg_kind::in_buffer || kind == abi::arg_kind::out_buffer; }

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

dispatcher::dispatcher(guest_memory& memory, const profile& profile, std::span<const abi::function_desc> table)
    : memory_(memory), profile_(profile), table_(table), entries_(table.size())
{
    if (table.size() >= 128)
        throw std::logic_error("dispatcher: direct_ holds table indices in int8_t");
    if (const std::string problem = profile_problem(profile); !problem.empty())
        throw error(exit_status::host_failure, "profile '" + profile.name + "' " + problem);
    direct_.fill(-1);
    for (size_t i = 0; i < table_.size(); ++i) {
        const abi::function_desc& f = table_[i];
        if (uint16_t(f.svc) < direct_services && f.id < direct_functions)
            direct_[uint16_t(f.svc) * direct_functions + f.id] = int8_t(i);
        entries_[i].offered = profile_.offers(f.svc);
        entries_[i].denied = profile_.denies(f.call);
        for (abi::arg_kind a : f.args)
            entries_[i].writes_memory = entries_[i].writes_memory || a == abi::arg_kind::out_buffer;
    }
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

uint32_t dispatcher::service_bitmap() const
{
    uint32_t bits = 0;
    for (const abi::service_desc& s : abi::services)
        if (offers(s.id))
            bits |= 1u << uint16_t(s.id);
    return bits;
}

call_result dispatcher::dispatch(const call_request& request)
{
    if (request.call & abi::call_reserved_mask)
        return fail(abi::status::invalid_param);
    const int index = table_index(request.call);
    if (index < 0 || !entries_[index].offered || !entries_[index].handler)
        return fail(abi::status::not_supported);
    const entry& e = entries_[index];
    const abi::function_desc* f = &table_[index];
    if (e.denied)
        return fail(abi::status::denied);

    // Spec 2.1: the reserved bits of every argument are checked before any buffer.
    for (unsigned i = 0; i < abi::max_args; ++i)
        if (request.args[i] & abi::reserved_bits(f->args[i]))
            return fail(abi::status::invalid_param);
    for (unsigned i = 0; i + 1 < abi::max_args; ++i) {
        // A zero-length buffer is never touched, so its address is not checked.
        if (is_buffer(f->args[i]) && request.args[i + 1] != 0 &&
            !memory_.contains(guest_address{request.args[i]}, request.args[i + 1]))
            return fail(abi::status::invalid_address);
    }

    call_result result = e.handler(call(*f, request, memory_));
    if (!abi::is_spec_status(int64_t(result.status))) {
        if (on_host_bug)
            on_host_bug(std::string("handler of ") + f->service_name + "." + f->name + " returned status " +
                        std::to_string(int64_t(result.status)) + ", which the spec does not define");
        return fail(abi::status::failed);
    }
    if (result.status != abi::status::success) {
        result.value = 0;
    } else if (e.writes_memory && on_guest_write) {
        for (unsigned i = 0; i < abi::max_args; ++i)
            if (f->args[i] == abi::arg_kind::out_buffer && request.args[i + 1] != 0)
                on_guest_write(request.args[i], request.args[i + 1]);
    }
    return result;
}

}  // namespace hbvm
