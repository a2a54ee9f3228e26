// MEM: the guest-physical memory map, as a result record (spec 9.2): a header,
// then one mem_region per range. The same truth the Multiboot map tells.
#include "services/services.hpp"

#include "core/multiboot_loader.hpp"

#include <algorithm>
#include <cstring>

namespace hbvm {

namespace {

class mem_module final : public service_module {
public:
    explicit mem_module(const service_context& context) : map_(encode(guest_memory_map(context.ram_size))) {}

    void add_handlers(dispatcher& d) override
    {
        d.add(abi::function::mem_get_map, [this](const call& c) {
            // The start of the map that fits; the whole map's size in RDX.
            std::span<std::byte> out = c.out_buffer(0);
            std::copy_n(map_.begin(), std::min(out.size(), map_.size()), out.begin());
            return succeed(map_.size());
        });
    }

    // Nothing to reset: the map depends only on the RAM size, fixed for the
    // machine's life (HB-MEM-004).
    void reset(boot_cause) override {}

    // The map's bytes as the guest sees them: header, then entries.
    static std::vector<std::byte> encode(const std::vector<abi::mem_region>& regions)
    {
        abi::mem_map_header header{};
        header.header_size = sizeof header;
        header.version = 1;
        header.entry_size = sizeof(abi::mem_region);
        header.entry_count = uint32_t(regions.size());
        std::vector<std::byte> bytes(sizeof header + regions.size() * sizeof(abi::mem_region));
        std::memcpy(bytes.data(), &header, sizeof header);
        if (!regions.empty())
            std::memcpy(bytes.data() + sizeof header, regions.data(), regions.size() * sizeof(abi::mem_region));
        return bytes;
    }

private:
    const std::vector<std::byte> map_;
};

}  // namespace

std::unique_ptr<service_module> make_mem_module(const service_context& context)
{
    return std::make_unique<mem_module>(context);
}

}  // namespace hbvm
