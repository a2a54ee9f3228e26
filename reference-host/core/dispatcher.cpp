#include "core/dispatcher.hpp"

#include <stdexcept>

namespace hbvm {

namespace {

size_t table_index(const abi::function_desc* f) { return size_t(f - abi::functions); }

bool is_buffer(abi::arg_kind kind) { return kind == abi::arg_kind::in_buffer || kind == abi::arg_kind::out_buffer; }

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

dispatcher::dispatcher(guest_memory& memory, const profile& profile) : memory_(memory), profile_(profile) {}

void dispatcher::add(abi::function function, call_handler handler)
{
    const abi::function_desc* f = abi::find_function(uint64_t(function));
    if (!f)
        throw std::logic_error("dispatcher: function missing from the ABI table");
    if (handlers_[table_index(f)])
        throw std::logic_error(std::string("dispatcher: two handlers for ") + f->service_name + "." + f->name);
    handlers_[table_index(f)] = std::move(handler);
}

bool dispatcher::offers(abi::service service) const
{
    if (!profile_.offers(service))
        return false;
    for (size_t i = 0; i < abi::function_count; ++i)
        if (abi::functions[i].svc == service && handlers_[i])
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
    const abi::function_desc* f = abi::find_function(request.call);
    if (!f || !profile_.offers(f->svc) || !handlers_[table_index(f)])
        return fail(abi::status::not_supported);
    if (profile_.denies(f->call))
        return fail(abi::status::denied);

    for (unsigned i = 0; i < abi::max_args; ++i) {
        if (request.args[i] & abi::reserved_bits(f->args[i]))
            return fail(abi::status::invalid_param);
        // A zero-length buffer is never touched, so its address is not checked.
        if (is_buffer(f->args[i]) && request.args[i + 1] != 0 &&
            !memory_.contains(guest_address{request.args[i]}, request.args[i + 1]))
            return fail(abi::status::invalid_address);
    }

    call_result result = handlers_[table_index(f)](call(*f, request, memory_));
    if (!abi::is_spec_status(int64_t(result.status))) {
        if (on_host_bug)
            on_host_bug(std::string("handler of ") + f->service_name + "." + f->name + " returned status " +
                        std::to_string(int64_t(result.status)) + ", which the spec does not define");
        return fail(abi::status::failed);
    }
    if (result.status != abi::status::success)
        result.value = 0;
    return result;
}

}  // namespace hbvm
