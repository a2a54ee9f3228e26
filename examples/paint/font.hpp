// A 5x7 bitmap font of this example's own, for the text paint types: capital
// letters (small letters are drawn as capitals), digits and some punctuation,
// each glyph written as its seven rows of five pixels ('#' set) so that it can
// be read and corrected here. Characters it lacks are drawn as a hollow box.
#ifndef HYPERBIOS_EXAMPLES_PAINT_FONT_HPP
#define HYPERBIOS_EXAMPLES_PAINT_FONT_HPP

#include <stdint.h>

namespace paint_font {

constexpr int glyph_width = 5, glyph_height = 7;

struct glyph_source {
    char c;
    const char* rows;  // 7 x 5 characters, row after row
};

constexpr glyph_source sources[] = {
    {' ', "..................................."},
    {'A', ".###.#...##...#######...##...##...#"},
    {'B', "####.#...##...#####.#...##...#####."},
    {'C', ".###.#...##....#....#....#...#.###."},
    {'D', "####.#...##...##...##...##...#####."},
    {'E', "######....#....####.#....#....#####"},
    {'F', "######....#....####.#....#....#...."},
    {'G', ".###.#...##....#.####...##...#.####"},
    {'H', "#...##...##...#######...##...##...#"},
    {'I', ".###...#....#....#....#....#...###."},
    {'J', "..###...#....#....#....##..#..##..."},
    {'K', "#...##..#.#.#..##...#.#..#..#.#...#"},
    {'L', "#....#....#....#....#....#....#####"},
    {'M', "#...###.###.#.##.#.##...##...##...#"},
    {'N', "#...##...###..##.#.##..###...##...#"},
    {'O', ".###.#...##...##...##...##...#.###."},
    {'P', "####.#...##...#####.#....#....#...."},
    {'Q', ".###.#...##...##...##.#.##..#..##.#"},
    {'R', "####.#...##...#####.#.#..#..#.#...#"},
    {'S', ".#####....#.....###.....#....#####."},
    {'T', "#####..#....#....#....#....#....#.."},
    {'U', "#...##...##...##...##...##...#.###."},
    {'V', "#...##...##...##...##...#.#.#...#.."},
    {'W', "#...##...##...##.#.##.#.##.#.#.#.#."},
    {'X', "#...##...#.#.#...#...#.#.#...##...#"},
    {'Y', "#...##...#.#.#...#....#....#....#.."},
    {'Z', "#####....#...#...#...#...#....#####"},
    {'0', ".###.#...##..###.#.###..##...#.###."},
    {'1', "..#...##....#....#....#....#...###."},
    {'2', ".###.#...#....#...#...#...#...#####"},
    {'3', "#####...#...#.....#.....##...#.###."},
    {'4', "...#...##..#.#.#..#.#####...#....#."},
    {'5', "######....####.....#....##...#.###."},
    {'6', "..##..#...#....####.#...##...#.###."},
    {'7', "#####....#...#...#...#....#....#..."},
    {'8', ".###.#...##...#.###.#...##...#.###."},
    {'9', ".###.#...##...#.####....#...#..##.."},
    {'.', ".........................##...##..."},
    {',', "....................##....#...#...."},
    {'!', "..#....#....#....#....#.........#.."},
    {'?', ".###.#...#....#...#...#.........#.."},
    {'-', "...............#####..............."},
    {':', "......##...##.........##...##......"},
    {'\'', "..#....#...#......................."},
};

// The rows of character `c` as five-bit masks (bit 4 the leftmost pixel).
struct glyph {
    uint8_t rows[glyph_height];
};

constexpr glyph bits_of(const char* rows)
{
    glyph g{};
    for (int r = 0; r < glyph_height; ++r)
        for (int c = 0; c < glyph_width; ++c)
            if (rows[r * glyph_width + c] == '#')
                g.rows[r] = uint8_t(g.rows[r] | (1u << (glyph_width - 1 - c)));
    return g;
}

constexpr glyph box = bits_of("######...##...##...##...##...######");

constexpr glyph lookup(uint32_t c)
{
    if (c >= 'a' && c <= 'z')
        c -= 'a' - 'A';
    for (const glyph_source& s : sources)
        if (uint32_t(uint8_t(s.c)) == c)
            return bits_of(s.rows);
    return box;
}

// Every source is 35 pixels long: a typo here is a compile error.
constexpr bool sources_well_formed()
{
    for (const glyph_source& s : sources) {
        int n = 0;
        while (s.rows[n])
            ++n;
        if (n != glyph_width * glyph_height)
            return false;
    }
    return true;
}
static_assert(sources_well_formed(), "a glyph is not 7 rows of 5 pixels");

}  // namespace paint_font

#endif
