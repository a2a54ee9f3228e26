#include "accel/accelerator.hpp"

#include <cstdio>

namespace hbvm {

std::string format_registers(const vcpu_registers& r)
{
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
                  "  rsi=%016llx rdi=%016llx rbp=%016llx rsp=%016llx\n"
                  "  r8 =%016llx r9 =%016llx r10=%016llx r11=%016llx\n"
                  "  r12=%016llx r13=%016llx r14=%016llx r15=%016llx\n"
                  "  rip=%016llx rflags=%016llx",
                  (unsigned long long)r.rax, (unsigned long long)r.rbx, (unsigned long long)r.rcx,
                  (unsigned long long)r.rdx, (unsigned long long)r.rsi, (unsigned long long)r.rdi,
                  (unsigned long long)r.rbp, (unsigned long long)r.rsp, (unsigned long long)r.r8,
                  (unsigned long long)r.r9, (unsigned long long)r.r10, (unsigned long long)r.r11,
                  (unsigned long long)r.r12, (unsigned long long)r.r13, (unsigned long long)r.r14,
                  (unsigned long long)r.r15, (unsigned long long)r.rip, (unsigned long long)r.rflags);
    return buf;
}

}  // namespace hbvm
