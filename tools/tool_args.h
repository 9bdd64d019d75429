/* Shared by the tools' command lines (gen_events, gen_profiles,
 * bench_lookup): a whole-number option value, or exit 2 naming the flag. */
#ifndef NUDGE_TOOL_ARGS_H
#define NUDGE_TOOL_ARGS_H
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* TEXT as a whole number in [min, max]; TOOL names the program in the
 * error. */
static inline uint64_t tool_parse_count(const char *tool, const char *text,
                                        const char *flag, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long value = text ? strtoull(text, &end, 10) : 0;
    if (!text || errno || end == text || *end || text[0] == '-' || value < min ||
        value > max) {
        fprintf(stderr, "%s: %s needs a whole number from %" PRIu64 " to %" PRIu64 "\n",
                tool, flag, min, max);
        exit(2);
    }
    return value;
}

#endif
