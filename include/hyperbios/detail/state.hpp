// Everything the guest library remembers between calls, in one object placed
// where any linker script finds it.
//
// An inline variable (a header-only library has no .cpp to define its data in)
// is emitted into a COMDAT section of its own, named .bss.<mangled name>; a
// kernel's linker script that lists only *(.bss) -- common in C kernels, which
// never make such sections, e.g. Solo5's -- leaves it an orphan that the linker
// places after everything, outside what the loader zeroes or even loads. So the
// state goes into the section called .bss itself. It is ONE object because GCC
// (12) puts every section-attributed COMDAT variable of a translation unit into
// the first one's group: two such variables, used by different translation
// units, then end up defined twice ("multiple definition" at link time). A
// kernel that gives its own inline variables [[gnu::section(".bss")]] meets the
// same GCC behaviour; a plain .bss variable does not.
#ifndef HYPERBIOS_DETAIL_STATE_HPP
#define HYPERBIOS_DETAIL_STATE_HPP

#include <hyperbios/host_info.hpp>
#include <stdint.h>

namespace hyperbios {

namespace fallback {
// Where fallback::debug_write() sends text, chosen on first use (fallback.hpp).
enum class debug_channel : uint8_t { unchosen, debugcon, com1, debugcon_unconfirmed };
}  // namespace fallback

namespace detail {

// Zero-initialised, as a .bss object must be: every member's zero is its
// "nothing known yet".
struct library_state {
    host_info host;                       // detect()'s answer, once host_probed
    bool host_probed;
    fallback::debug_channel debug_channel;  // unchosen until the first debug_write()
};
static_assert(uint8_t(fallback::debug_channel::unchosen) == 0);

[[gnu::section(".bss")]] inline library_state state;

}  // namespace detail
}  // namespace hyperbios

#endif
