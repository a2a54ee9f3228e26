// The kernel's arguments, from the command line a boot loader passes: the image
// path taken off, the rest split into words, "key=value" looked up.
//
// What loaders write (read from their sources):
// - GRUB 2 (multiboot): the path and each argument of its `multiboot` command,
//   space-separated; an argument holding a space is put in double quotes, and
//   every \, ' and " is preceded by a backslash (grub_create_loader_cmdline);
// - QEMU -kernel (Multiboot): "PATH ARGS", the path and -append's text as given;
// - the reference host (hbvm): "PATH ARG ARG...", the image path and the
//   arguments after "--", each quoted as GRUB does when it holds a space, a
//   control byte or a quote;
// - PVH loaders (QEMU, Firecracker, cloud-hypervisor): only the arguments.
// So the words are read as GRUB writes them: whitespace separates words outside
// double quotes, a pair of double quotes groups what is between them and is
// dropped, and a backslash makes the next character literal. A path that holds
// a space splits unless the loader quotes it: GRUB and hbvm do; QEMU writes it
// bare, and then no reader can tell where the path ends.
#ifndef HYPERBIOS_BOOT_KERNEL_ARGUMENTS_HPP
#define HYPERBIOS_BOOT_KERNEL_ARGUMENTS_HPP

#include <stddef.h>
#include <stdint.h>

namespace hyperbios::boot {

// The longest command line read (the reference host's limit too); what lies
// beyond is left out of the words (see truncated()), not of text().
inline constexpr size_t max_command_line = 4095;

class kernel_arguments {
public:
    constexpr kernel_arguments() noexcept = default;

    // Splits `command_line` (null: empty). When `starts_with_image_path` (the
    // Multiboot loaders above), its first word is the image's path and not an
    // argument. Forgets what an earlier parse() found.
    constexpr void parse(const char* command_line, bool starts_with_image_path) noexcept
    {
        count_ = 0;
        truncated_ = false;
        const char* p = command_line ? command_line : "";
        size_t used = 0;
        p = skip_space(p);
        if (starts_with_image_path)
            p = skip_space(read_word(p, used));
        words_[used++] = 0;  // the path; empty when there is none
        text_ = p;
        while (*p) {
            const size_t start = used;
            p = skip_space(read_word(p, used));
            if (truncated_) {
                used = start;  // a word cut short is no word
                break;
            }
            words_[used++] = 0;
            ++count_;
        }
        words_[used] = 0;
    }

    // The image path the loader put first ("" when there is none, as with PVH).
    constexpr const char* image_path() const noexcept { return words_; }

    // The arguments as the loader wrote them (quotes and backslashes kept: the
    // quotes GRUB and hbvm put around a word with a space are in it), from the
    // first one on; never null. It stays in the loader's memory. For the words
    // without the loader's quoting, iterate, or see joined().
    constexpr const char* text() const noexcept { return text_ ? text_ : ""; }

    // The arguments as one string, for a kernel or binding that takes its
    // command line whole (Solo5's cmdline): the words of the iteration below,
    // unquoted, one space between two, the image path left out. Written as
    // snprintf writes: at most capacity - 1 bytes and a NUL into `buffer`
    // (nothing when capacity is 0; buffer may then be null). Returns the length
    // of the whole string, so a result >= capacity means it was cut. That length
    // is never more than max_command_line: a buffer of max_command_line + 1
    // bytes always holds it. The words themselves cannot be told apart again
    // ("two words" joins as two); iterate for them.
    constexpr size_t joined(char* buffer, size_t capacity) const noexcept
    {
        size_t length = 0;
        const auto put = [&](char c) {
            if (length + 1 < capacity)
                buffer[length] = c;
            ++length;
        };
        for (const char* argument : *this) {
            if (length != 0)
                put(' ');
            for (const char* p = argument; *p; ++p)
                put(*p);
        }
        if (capacity != 0)
            buffer[length < capacity ? length : capacity - 1] = 0;
        return length;
    }

    // The number of words after the path.
    constexpr size_t size() const noexcept { return count_; }
    constexpr bool empty() const noexcept { return count_ == 0; }

    // The command line was longer than max_command_line: the words that did not
    // fit whole are missing.
    constexpr bool truncated() const noexcept { return truncated_; }

    // Each argument, unquoted and NUL-terminated, in order:
    //     for (const char* argument : boot.arguments()) ...
    class iterator {
    public:
        constexpr const char* operator*() const noexcept { return at_; }
        constexpr iterator& operator++() noexcept
        {
            while (*at_)
                ++at_;
            ++at_;
            --left_;
            return *this;
        }
        constexpr bool operator==(const iterator& other) const noexcept { return left_ == other.left_; }

    private:
        friend class kernel_arguments;
        constexpr iterator(const char* at, size_t left) noexcept : at_(at), left_(left) {}
        const char* at_;
        size_t left_;
    };
    constexpr iterator begin() const noexcept { return {first_argument(), count_}; }
    constexpr iterator end() const noexcept { return {nullptr, 0}; }

    // The value of the first argument "key=value" ("" for "key="); null when
    // no argument has that key.
    constexpr const char* value(const char* key) const noexcept
    {
        for (const char* argument : *this)
            if (const char* rest = after_prefix(argument, key); rest && *rest == '=')
                return rest + 1;
        return nullptr;
    }

    // Whether an argument is `word` itself or "word=...".
    constexpr bool contains(const char* word) const noexcept
    {
        for (const char* argument : *this)
            if (const char* rest = after_prefix(argument, word); rest && (*rest == 0 || *rest == '='))
                return true;
        return false;
    }

private:
    static constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

    static constexpr const char* skip_space(const char* p) noexcept
    {
        while (is_space(*p))
            ++p;
        return p;
    }

    // `text` without the leading `prefix`, or null when it does not start so.
    static constexpr const char* after_prefix(const char* text, const char* prefix) noexcept
    {
        for (; *prefix; ++prefix, ++text)
            if (*text != *prefix)
                return nullptr;
        return text;
    }

    constexpr const char* first_argument() const noexcept
    {
        const char* p = words_;
        while (*p)
            ++p;
        return p + 1;
    }

    // Copies one word from `p`, unquoted, to words_ + used; returns where it ended.
    constexpr const char* read_word(const char* p, size_t& used) noexcept
    {
        bool quoted = false;
        for (; *p && (quoted || !is_space(*p)); ++p) {
            char c = *p;
            if (c == '"') {
                quoted = !quoted;
                continue;
            }
            if (c == '\\' && p[1])
                c = *++p;
            // One byte stays free for the word's NUL and one for the list's end.
            if (used + 2 >= sizeof words_) {
                truncated_ = true;
                while (*p)
                    ++p;
                return p;
            }
            words_[used++] = c;
        }
        return p;
    }

    // The path, then each argument, each NUL-terminated, and a NUL. Words take
    // no more room than the line they come from, whose whitespace turns into
    // their NULs, so max_command_line bytes always fit: three more hold the
    // empty path of a line without one and the two closing NULs.
    char words_[max_command_line + 3] = {};
    const char* text_ = nullptr;  // null rather than "": a zero-initialised object lies in .bss
    size_t count_ = 0;
    bool truncated_ = false;
};

}  // namespace hyperbios::boot

#endif
