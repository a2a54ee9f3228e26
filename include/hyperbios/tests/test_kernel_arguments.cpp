// hyperbios::boot::kernel_arguments on the host: command lines as GRUB, QEMU,
// hbvm and PVH loaders write them.
#include <hyperbios/boot/kernel_arguments.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using hyperbios::boot::kernel_arguments;

std::vector<std::string> words(const kernel_arguments& arguments)
{
    std::vector<std::string> out;
    for (const char* argument : arguments)
        out.emplace_back(argument);
    EXPECT_EQ(out.size(), arguments.size());
    return out;
}

using list = std::vector<std::string>;

TEST(KernelArguments, MultibootLineLosesItsImagePath)
{
    static kernel_arguments a;
    a.parse("/boot/kernel.elf seed=5 verbose", true);
    EXPECT_STREQ(a.image_path(), "/boot/kernel.elf");
    EXPECT_STREQ(a.text(), "seed=5 verbose");
    EXPECT_EQ(words(a), (list{"seed=5", "verbose"}));
}

TEST(KernelArguments, PathOnly)
{
    static kernel_arguments a;
    a.parse("build/examples/hello/hello.elf", true);
    EXPECT_STREQ(a.image_path(), "build/examples/hello/hello.elf");
    EXPECT_STREQ(a.text(), "");
    EXPECT_TRUE(a.empty());
    EXPECT_EQ(a.begin(), a.end());
}

TEST(KernelArguments, PvhLineHasNoPath)
{
    static kernel_arguments a;
    a.parse("seed=7 console=com1", false);
    EXPECT_STREQ(a.image_path(), "");
    EXPECT_STREQ(a.text(), "seed=7 console=com1");
    EXPECT_EQ(words(a), (list{"seed=7", "console=com1"}));
}

TEST(KernelArguments, NullAndBlankLines)
{
    static kernel_arguments a;
    a.parse(nullptr, true);
    EXPECT_STREQ(a.image_path(), "");
    EXPECT_STREQ(a.text(), "");
    EXPECT_TRUE(a.empty());
    a.parse(" \t\n ", false);
    EXPECT_TRUE(a.empty());
    EXPECT_STREQ(a.text(), "");
}

TEST(KernelArguments, ExtraWhitespaceMakesNoEmptyWords)
{
    static kernel_arguments a;
    a.parse("  /k.elf   a\t\tb  \n", true);
    EXPECT_STREQ(a.image_path(), "/k.elf");
    EXPECT_STREQ(a.text(), "a\t\tb  \n");
    EXPECT_EQ(words(a), (list{"a", "b"}));
}

// GRUB 2's grub_create_loader_cmdline: an argument with a space in double
// quotes, and a backslash before every \, ' and ".
TEST(KernelArguments, GrubQuotedPathWithSpacesStaysOneWord)
{
    static kernel_arguments a;
    a.parse(R"("/boot/my kernels/k.elf" "title=two words" quote=\"x\" it\'s back=a\\b)", true);
    EXPECT_STREQ(a.image_path(), "/boot/my kernels/k.elf");
    EXPECT_EQ(words(a), (list{"title=two words", "quote=\"x\"", "it's", R"(back=a\b)"}));
    EXPECT_STREQ(a.value("title"), "two words");
    EXPECT_STREQ(a.value("quote"), "\"x\"");
}

TEST(KernelArguments, QuotesMayOpenInsideAWord)
{
    static kernel_arguments a;
    a.parse(R"(k root="/dev/disk by label" a"b c"d)", true);
    EXPECT_EQ(words(a), (list{"root=/dev/disk by label", "ab cd"}));
}

TEST(KernelArguments, UnclosedQuoteRunsToTheEnd)
{
    static kernel_arguments a;
    a.parse(R"(k x "a b)", true);
    EXPECT_EQ(words(a), (list{"x", "a b"}));
}

TEST(KernelArguments, TrailingBackslashIsKept)
{
    static kernel_arguments a;
    a.parse("k dir\\", true);
    EXPECT_EQ(words(a), (list{"dir\\"}));
}

TEST(KernelArguments, KeyValueLookup)
{
    static kernel_arguments a;
    a.parse("/k.elf seed=5 empty= flag seeds=9 seed=6 =odd", true);
    EXPECT_STREQ(a.value("seed"), "5");  // the first one wins
    EXPECT_STREQ(a.value("seeds"), "9");
    EXPECT_STREQ(a.value("empty"), "");
    EXPECT_EQ(a.value("flag"), nullptr);  // a word without '=' has no value
    EXPECT_EQ(a.value("see"), nullptr);   // a key is never a prefix of another
    EXPECT_EQ(a.value("missing"), nullptr);
    EXPECT_STREQ(a.value(""), "odd");
    EXPECT_TRUE(a.contains("flag"));
    EXPECT_TRUE(a.contains("seed"));
    EXPECT_TRUE(a.contains("empty"));
    EXPECT_FALSE(a.contains("fla"));
    EXPECT_FALSE(a.contains("/k.elf"));  // the path is no argument
}

TEST(KernelArguments, ParseForgetsTheEarlierLine)
{
    static kernel_arguments a;
    a.parse("/one.elf a b c", true);
    a.parse("/two.elf d", true);
    EXPECT_STREQ(a.image_path(), "/two.elf");
    EXPECT_EQ(words(a), (list{"d"}));
}

TEST(KernelArguments, LongestLineFitsWhole)
{
    // max_command_line bytes of words, with and without a path: nothing cut.
    std::string line(hyperbios::boot::max_command_line, 'a');
    for (size_t i = 1; i < line.size(); i += 2)
        line[i] = ' ';
    static kernel_arguments a;
    a.parse(line.c_str(), false);
    EXPECT_FALSE(a.truncated());
    EXPECT_EQ(a.size(), (line.size() + 1) / 2);
    a.parse(line.c_str(), true);
    EXPECT_FALSE(a.truncated());
    EXPECT_EQ(a.size(), (line.size() + 1) / 2 - 1);
    const std::string one_word(hyperbios::boot::max_command_line, 'w');
    a.parse(one_word.c_str(), false);
    EXPECT_FALSE(a.truncated());
    EXPECT_EQ(words(a), (list{one_word}));
}

TEST(KernelArguments, LongerLineDropsTheWordThatDoesNotFit)
{
    std::string line = "/k.elf first ";
    line += std::string(hyperbios::boot::max_command_line, 'x');
    line += " last";
    static kernel_arguments a;
    a.parse(line.c_str(), true);
    EXPECT_TRUE(a.truncated());
    EXPECT_EQ(words(a), (list{"first"}));
    EXPECT_EQ(std::string(a.text()), line.substr(7));  // the loader's text is all there
}

// joined(): the words after the path, unquoted, one space apart (Solo5's
// cmdline is such a string); snprintf's contract: at most capacity - 1 bytes
// and a NUL, and the length the whole needs.
std::string joined(const kernel_arguments& arguments)
{
    const size_t length = arguments.joined(nullptr, 0);
    std::string out(length + 1, '?');
    EXPECT_EQ(arguments.joined(out.data(), out.size()), length);
    EXPECT_EQ(out[length], '\0');
    out.resize(length);
    return out;
}

TEST(KernelArgumentsJoined, HbvmQuotingIsUndone)
{
    // What `hbvm run /k.elf -- alpha "two words" 'say "hi"' "it's" 'a\b'` writes.
    static kernel_arguments a;
    a.parse(R"(/k.elf alpha "two words" "say \"hi\"" "it\'s" "a\\b")", true);
    EXPECT_EQ(joined(a), R"(alpha two words say "hi" it's a\b)");
    EXPECT_EQ(words(a), (list{"alpha", "two words", "say \"hi\"", "it's", R"(a\b)"}));
}

TEST(KernelArgumentsJoined, GrubQuotedPathIsLeftOut)
{
    static kernel_arguments a;
    a.parse(R"("/boot/my kernels/k.elf" "title=two words" quote=\"x\")", true);
    EXPECT_EQ(joined(a), R"(title=two words quote="x")");
}

TEST(KernelArgumentsJoined, PvhLineHasNoPathToLeaveOut)
{
    static kernel_arguments a;
    a.parse("seed=7 console=com1", false);
    EXPECT_EQ(joined(a), "seed=7 console=com1");
}

TEST(KernelArgumentsJoined, WhitespaceRunsBecomeOneSpace)
{
    static kernel_arguments a;
    a.parse("  /k.elf   a\t\tb \n c  \r\n", true);
    EXPECT_EQ(joined(a), "a b c");
}

TEST(KernelArgumentsJoined, NoArgumentsIsEmpty)
{
    static kernel_arguments a;
    char buffer[4] = {'x', 'x', 'x', 'x'};
    a.parse("/k.elf", true);
    EXPECT_EQ(a.joined(buffer, sizeof buffer), 0u);
    EXPECT_EQ(buffer[0], '\0');
    a.parse(nullptr, false);
    EXPECT_EQ(a.joined(buffer, sizeof buffer), 0u);
    EXPECT_EQ(buffer[0], '\0');
    static const kernel_arguments never_parsed;
    EXPECT_EQ(never_parsed.joined(buffer, sizeof buffer), 0u);
    EXPECT_EQ(buffer[0], '\0');
}

TEST(KernelArgumentsJoined, ShortBufferIsCutAndStillTerminated)
{
    static kernel_arguments a;
    a.parse(R"(/k.elf alpha "two words" flag)", true);
    const std::string whole = "alpha two words flag";
    for (size_t capacity = 1; capacity <= whole.size() + 2; ++capacity) {
        std::string buffer(capacity + 1, '#');  // one guard byte past the capacity
        EXPECT_EQ(a.joined(buffer.data(), capacity), whole.size()) << "capacity " << capacity;
        const size_t kept = std::min(capacity - 1, whole.size());
        EXPECT_EQ(buffer.substr(0, kept), whole.substr(0, kept)) << "capacity " << capacity;
        EXPECT_EQ(buffer[kept], '\0') << "capacity " << capacity;
        EXPECT_EQ(buffer[capacity], '#') << "wrote past the capacity " << capacity;
    }
}

TEST(KernelArgumentsJoined, CapacityZeroWritesNothingAndMeasures)
{
    static kernel_arguments a;
    a.parse("k one two", true);
    char untouched = '#';
    EXPECT_EQ(a.joined(&untouched, 0), 7u);
    EXPECT_EQ(untouched, '#');
    EXPECT_EQ(a.joined(nullptr, 0), 7u);
}

TEST(KernelArgumentsJoined, LongestLineFitsInMaxCommandLinePlusOne)
{
    std::string line(hyperbios::boot::max_command_line, 'a');
    for (size_t i = 1; i < line.size(); i += 2)
        line[i] = ' ';
    static kernel_arguments a;
    a.parse(line.c_str(), false);
    static char buffer[hyperbios::boot::max_command_line + 1];
    EXPECT_EQ(a.joined(buffer, sizeof buffer), line.size());
    EXPECT_EQ(std::string(buffer), line);
}

TEST(KernelArgumentsJoined, WordsCutByTheLineLimitAreNotJoined)
{
    std::string line = "/k.elf first ";
    line += std::string(hyperbios::boot::max_command_line, 'x');
    static kernel_arguments a;
    a.parse(line.c_str(), true);
    EXPECT_TRUE(a.truncated());
    EXPECT_EQ(joined(a), "first");
}

}  // namespace
