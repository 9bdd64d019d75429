/* The inbox's row format (inbox.h): each flattened event as its timestamp
 * and line (8 bytes each, little-endian), one byte saying which of its
 * eight strings are there, then those strings, each NUL-terminated. */
#include "inbox.h"

#include <stdlib.h>
#include <string.h>

#define STRINGS 8
#define HEADER 17

/* The event's strings, in packing order; raw and type are always there. */
static void string_slots(nudge_event *ev, const char **slots[STRINGS])
{
    const char **all[STRINGS] = {&ev->raw,          &ev->type,       &ev->user_id,
                                 &ev->anonymous_id, &ev->name,       &ev->message_id,
                                 &ev->traits_json,  &ev->previous_id};
    memcpy(slots, all, sizeof all);
}

static void string_values(const nudge_event *ev, const char *values[STRINGS])
{
    const char *all[STRINGS] = {ev->raw,          ev->type,       ev->user_id,
                                ev->anonymous_id, ev->name,       ev->message_id,
                                ev->traits_json,  ev->previous_id};
    memcpy(values, all, sizeof all);
}

static void put_u64(unsigned char *at, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        at[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *at)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)at[i] << (8 * i);
    return v;
}

static size_t packed_size(const nudge_event *events, int count)
{
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        const char *values[STRINGS];
        string_values(&events[i], values);
        total += HEADER;
        for (int k = 0; k < STRINGS; k++)
            total += values[k] ? strlen(values[k]) + 1 : 0;
    }
    return total;
}

void *inbox_pack(const nudge_event *events, int count, size_t *len)
{
    size_t total = packed_size(events, count);
    unsigned char *buf = malloc(total ? total : 1), *at = buf;
    if (!buf) return NULL;
    for (int i = 0; i < count; i++) {
        const char *values[STRINGS];
        string_values(&events[i], values);
        put_u64(at, (uint64_t)events[i].ts_ms);
        put_u64(at + 8, (uint64_t)(int64_t)events[i].line);
        at[16] = 0;
        for (int k = 0; k < STRINGS; k++)
            at[16] |= values[k] ? (unsigned char)(1u << k) : 0;
        at += HEADER;
        for (int k = 0; k < STRINGS; k++)
            if (values[k]) at = (unsigned char *)stpcpy((char *)at, values[k]) + 1;
    }
    *len = total;
    return buf;
}

/* One event from AT (END bounds it): its strings point into the buffer.
 * The position after it, or NULL for a row that is cut short or lacks the
 * raw text, the type or an id. */
static char *unpack_one(char *at, const char *end, nudge_event *ev)
{
    const char **slots[STRINGS];
    if (end - at < HEADER) return NULL;
    memset(ev, 0, sizeof *ev);
    ev->ts_ms = (int64_t)get_u64((unsigned char *)at);
    ev->line = (long)(int64_t)get_u64((unsigned char *)at + 8);
    unsigned mask = (unsigned char)at[16];
    at += HEADER;
    string_slots(ev, slots);
    for (int k = 0; k < STRINGS; k++) {
        if (!(mask & (1u << k))) continue;
        char *nul = memchr(at, 0, (size_t)(end - at));
        if (!nul) return NULL;
        *slots[k] = at;
        at = nul + 1;
    }
    ev->profile_id = ev->user_id ? ev->user_id : ev->anonymous_id;
    if (!ev->raw || !ev->type || !ev->profile_id || !ev->message_id) return NULL;
    ev->raw_len = strlen(ev->raw);
    return at;
}

int inbox_unpack(char *row, size_t len, int count, nudge_event *out)
{
    char *at = row;
    for (int i = 0; i < count; i++)
        if (!(at = unpack_one(at, row + len, &out[i]))) return -1;
    return at == row + len ? 0 : -1;
}
