// A back-end module for the module loader's tests (test_module_loader.cpp): the
// class "probe" makes devices that answer reads of one port with a value, both
// from their settings. Built three times (CMakeLists.txt): as it is, with a
// version hbvm is not (a stale module), and without its entry function.
#include "devices/module.hpp"

#include <stdexcept>

namespace {

class probe_device final : public hbvm::device {
public:
    probe_device(uint16_t port, uint32_t answer) : port_(port), answer_(answer) {}

    std::optional<hbvm::io_reply> on_io(const hbvm::io_access& access) override
    {
        if (access.port != port_ || access.is_write)
            return std::nullopt;
        return hbvm::io_reply{answer_, false};
    }

private:
    uint16_t port_;
    uint32_t answer_;
};

[[maybe_unused]] std::vector<std::unique_ptr<hbvm::device>> create(const std::string& device_class,
                                                  const std::vector<hbvm::device_settings>& settings,
                                                  const hbvm::device_host& host)
{
    if (device_class != "probe")
        throw std::logic_error("the probe module makes no '" + device_class + "' devices");
    std::vector<std::unique_ptr<hbvm::device>> made;
    for (const hbvm::device_settings& s : settings) {
        const uint16_t port = uint16_t(std::stoul(s.get("port").value_or("0x80"), nullptr, 0));
        const uint32_t answer = uint32_t(std::stoul(s.get("answer").value_or("0"), nullptr, 0));
        made.push_back(std::make_unique<probe_device>(port, answer));
        if (host.note)
            host.note("probe device on port " + std::to_string(port));
    }
    return made;
}

}  // namespace

#ifndef HBVM_PROBE_WITHOUT_ENTRY
HBVM_MODULE_ENTRY
{
    static const hbvm::module_entry entry{hbvm::module_interface_version, HBVM_VERSION_STRING, HBVM_PROBE_NAME,
                                          &create, nullptr, nullptr};
    return &entry;
}
#endif
