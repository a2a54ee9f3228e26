// A host program in the same project: built with the project's own flags, and
// none of the kernel's (-fno-rtti would make typeid fail to compile,
// -ffreestanding and -nostdlib would break the C++ library).
#include <cstdio>
#include <string>
#include <typeinfo>

int main()
{
#ifndef MY_HOST_ONLY_FLAG
    std::puts("my_tool: the project's CMAKE_CXX_FLAGS did not reach its host program");
    return 1;
#else
    std::string name = typeid(std::string).name();
    std::printf("my_tool: a host program with RTTI and the C++ library (%zu)\n", name.size());
    return 0;
#endif
}
