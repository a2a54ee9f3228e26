#include "devices/device_set.hpp"

namespace hbvm {

device_set::device_set(std::span<const device_class> registry, const std::vector<device_settings>& settings,
                       const device_host& host)
{
    for (const device_class& cls : registry) {
        std::vector<device_settings> mine;
        for (const device_settings& s : settings)
            if (s.device_class == cls.name)
                mine.push_back(s);
        if (mine.empty())
            continue;
        for (std::unique_ptr<device>& d : cls.create(mine, host)) {
            attach(cls.name, *d);
            owned_.push_back(std::move(d));
        }
    }
}

std::optional<io_reply> device_set::on_io(const io_access& access)
{
    for (device* d : in_order_)
        if (auto reply = d->on_io(access))
            return reply;
    return std::nullopt;
}

std::vector<std::pair<std::string, control_command>> device_set::control_commands() const
{
    std::vector<std::pair<std::string, control_command>> all;
    for (device* d : in_order_)
        for (auto& c : d->control_commands())
            all.push_back(std::move(c));
    return all;
}

void device_set::flush_output()
{
    for (device* d : in_order_)
        d->flush_output();
}

void device_set::run_ended()
{
    for (device* d : in_order_)
        d->run_ended();
}

void device_set::take_faults(const fault_injector& faults)
{
    for (device* d : in_order_)
        d->take_faults(faults);
}

}  // namespace hbvm
