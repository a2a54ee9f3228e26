// HyperBIOS guest library: include this one header.
//
// Header-only, freestanding C++20: no exceptions, no RTTI, no runtime library.
// Every call is safe without a HyperBIOS host; it then returns NOT_SUPPORTED.
// printf() and panic() (print.hpp) then write to the emulators' debug port.
#ifndef HYPERBIOS_HYPERBIOS_HPP
#define HYPERBIOS_HYPERBIOS_HPP

#include <hyperbios/abi.hpp>
#include <hyperbios/aud.hpp>
#include <hyperbios/base.hpp>
#include <hyperbios/block.hpp>
#include <hyperbios/call.hpp>
#include <hyperbios/console.hpp>
#include <hyperbios/detect.hpp>
#include <hyperbios/dsp.hpp>
#include <hyperbios/evt.hpp>
#include <hyperbios/format.hpp>
#include <hyperbios/inp.hpp>
#include <hyperbios/mem.hpp>
#include <hyperbios/memory_region.hpp>
#include <hyperbios/net.hpp>
#include <hyperbios/power.hpp>
#include <hyperbios/print.hpp>
#include <hyperbios/result.hpp>
#include <hyperbios/rng.hpp>
#include <hyperbios/time.hpp>

#endif
