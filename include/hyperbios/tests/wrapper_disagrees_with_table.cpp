// Wrappers that disagree with the ABI table, one per WRAPPER_CASE: each must fail
// to compile (check-wrappers-follow-table.sh). WRAPPER_CASE 0 is the control: the
// same calls with the table's types, which must compile, so a failure of the
// other cases is the table check and not a broken file.
#include <hyperbios/hyperbios.hpp>

namespace hb = hyperbios;
using fn = hb::abi::function;

#if WRAPPER_CASE == 0
hb::result<void> control_shutdown() { return hb::detail::call<fn::power_shutdown>(uint8_t(3)); }
hb::result<uint32_t> control_probe() { return hb::detail::call<fn::base_probe_service>(hb::abi::service::time); }
hb::result<uint32_t> control_version() { return hb::detail::call<fn::base_get_spec_version>(); }
hb::result<size_t> control_write() { return hb::detail::call<fn::console_write>(hb::gpa{0x1000}, size_t(1)); }
#elif WRAPPER_CASE == 1
// An exit code passed as 64 bits: the kind allows 0..255 only.
hb::result<void> wider_exit_code() { return hb::detail::call<fn::power_shutdown>(uint64_t(3)); }
#elif WRAPPER_CASE == 2
// A service ID passed as a plain integer instead of abi::service.
hb::result<uint32_t> untyped_service() { return hb::detail::call<fn::base_probe_service>(uint16_t(2)); }
#elif WRAPPER_CASE == 3
// The version result declared as 64 bits: the result kind is a 32-bit version.
hb::result<uint64_t> wider_version() { return hb::detail::call<fn::base_get_spec_version>(); }
#elif WRAPPER_CASE == 4
// Buffer and length swapped.
hb::result<size_t> swapped_buffer() { return hb::detail::call<fn::console_write>(size_t(1), hb::gpa{0x1000}); }
#elif WRAPPER_CASE == 5
// One argument too many.
hb::result<uint64_t> extra_argument() { return hb::detail::call<fn::time_monotonic_ns>(uint64_t(1)); }
#endif
