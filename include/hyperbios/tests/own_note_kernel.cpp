// A kernel with ELF notes of its own, as a Solo5 binding has (Solo5 puts its
// manifest in .note.solo5.manifest and reads it back at run time), linked with
// boot/multiboot.ld as it is. test_kernels.py boots it on hbvm and QEMU, through
// Multiboot and through the PVH note, and reads its notes with readelf.
//
// Two notes, both made up for this test:
// - a "manifest" (owner "Example") in .note.solo5.manifest, whose address the
//   kernel takes: a script that discarded the section would fail the link
//   ("defined in discarded section"), as the Solo5 port saw;
// - a note of type 18 in the "Example" namespace (.note.example.other): 18 is
//   also XEN_ELFNOTE_PHYS32_ENTRY, and QEMU looks notes up by type alone, so it
//   takes whichever type-18 note it reads last; multiboot.ld puts the Xen note
//   where every loader reads it last. Its descriptor points nowhere: a loader
//   that took it for the PVH entry would not boot this kernel.
#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/hyperbios.hpp>

namespace hb = hyperbios;

asm(R"(
    .pushsection .note.solo5.manifest, "a", @note
    .balign 4
    .global own_note_manifest
own_note_manifest:
    .long 8                         # name size: "Example" and its NUL
    .long 16                        # descriptor size
    .long 0x3154464d                # type
    .asciz "Example"
    .balign 4
    .ascii "disk0\0\0\0"            # two device names, 8 bytes each
    .ascii "net0\0\0\0\0"
    .popsection

    .pushsection .note.example.other, "a", @note
    .balign 4
    .long 8, 8, 18
    .asciz "Example"
    .balign 4
    .quad 0xdead0000
    .popsection
)");

namespace {

struct note_header {
    uint32_t name_size, descriptor_size, type;
};

hb::boot::boot_info boot;

}  // namespace

extern "C" const note_header own_note_manifest;

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    boot.read(magic, info);
    hb::printf("own-note: booted through %s\n",
               boot.loader_protocol() == hb::boot::protocol::pvh         ? "PVH"
               : boot.loader_protocol() == hb::boot::protocol::multiboot ? "Multiboot"
                                                                         : "an unknown protocol");
    // The note as the loader placed it in memory: the header, the name, the
    // descriptor, each 4-aligned.
    const note_header& note = own_note_manifest;
    const char* name = reinterpret_cast<const char*>(&note + 1);
    const char* descriptor = name + ((note.name_size + 3) & ~3u);
    hb::printf("own-note: manifest in memory: owner [%s] type %#x, %u bytes: [%s] [%s]\n", name, note.type,
               note.descriptor_size, descriptor, descriptor + 8);
    hb::print("own-note: done\n");
    (void)hb::power::shutdown(0);
    hb::fallback::power_off_emulator(3);  // QEMU: status (3 << 1) | 1 = 7
}
