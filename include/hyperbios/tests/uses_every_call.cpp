// Instantiates every wrapper of the guest library, so that the freestanding check
// sees all the code a kernel can pull in. Compiled, never run.
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;

extern "C" uint64_t hyperbios_uses_every_call(char* buffer, size_t size)
{
    uint64_t sum = 0;
    sum += hb::detect().present;
    sum += hb::probe_host().service_bitmap;
    sum += hb::base::spec_version().value;
    sum += hb::base::probe_service(hb::abi::service::console).value;
    sum += hb::base::impl_id().value + hb::base::impl_version().value;
    sum += hb::base::impl_name(buffer, size).value;
    sum += hb::base::impl_name(hb::gpa{0x1000}, 16).value;
    sum += hb::console::write("text").value;
    sum += hb::console::write(buffer, size).value;
    sum += hb::console::read(buffer, size).value;
    sum += hb::time::monotonic_ns().value + hb::time::wallclock_ns().value + hb::time::resolution_ns().value;
    sum += hb::power::reset_reason().value;
    sum += hb::power::reboot().ok();
    sum += hb::power::shutdown(3).ok();
    sum += hb::mem::get_map(buffer, size).value;
    for (const hb::mem::region r : hb::mem::regions(buffer, size))
        sum += r.base + r.length + r.type;
    sum += hb::rng::fill(buffer, size).value + hb::rng::u64().value;
    hb::block::info_record info{};
    const hb::block::segment segments[2] = {{0x2000, 512}, {0x4000, 512}};
    sum += hb::block::count().value + hb::block::info(0, info).value + info.sector_count;
    sum += hb::block::read(0, 1, buffer, size).value + hb::block::write(0, 1, buffer, size).value;
    sum += hb::block::read_vectored(0, 0, segments, 2).value + hb::block::write_vectored(0, 0, segments, 2).value;
    sum += hb::block::flush(0).ok();
    hb::dsp::info_record display{};
    hb::dsp::event_record event{};
    sum += hb::dsp::count().value + hb::dsp::info(0, display).value + display.width;
    sum += hb::dsp::set_mode(0, 640, 480).value + hb::dsp::present(0, buffer, 2560, 2, 0, 0, 1, 1).ok();
    sum += hb::dsp::ready().value + hb::dsp::next_event(0, event).value + event.type;
    hb::inp::info_record device{};
    hb::inp::event_record events[2]{};
    hb::inp::state_record state{};
    sum += hb::inp::count().value + hb::inp::info(0, device).value + hb::inp::ready().value;
    sum += hb::inp::read(0, events, 2).value + hb::inp::state(0, state).value + hb::inp::key_down(state, 30);
    hb::text::line<64> line;
    line.put("n=").dec(sum).put(' ').hex(sum).put(' ').sdec(-5).put(' ').utc(sum);
    hb::fallback::debugcon_write(line.c_str(), line.size());
    if (hb::fallback::debugcon_present())
        hb::fallback::power_off_emulator(1);
    return sum;
}
