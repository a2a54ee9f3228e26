// A kernel in a folder of its own, built against an installed HyperBIOS.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/hyperbios.hpp>

#ifdef MY_HOST_ONLY_FLAG
#error "a flag of the project's host targets (CMAKE_CXX_FLAGS) reached the kernel"
#endif

extern "C" void kernel_main(uint32_t, uint32_t)
{
    namespace hb = hyperbios;
    hb::printf("my_kernel: hello from outside the HyperBIOS tree, spec %u.%u\n",
               unsigned(hb::abi::version_major(hb::base::spec_version().value_or(0))),
               unsigned(hb::abi::version_minor(hb::base::spec_version().value_or(0))));
    (void)hb::power::shutdown(0);
}
