/* Event ingest: reads Segment-format events (NDJSON, a JSON array, or a
 * {"batch":[...]} envelope) from a stream, validates their shape, and hands
 * each accepted event to a callback.  Bad input is reported with its line
 * (or array element) and reason, counted, and skipped. */
#ifndef NUDGE_INGEST_H
#define NUDGE_INGEST_H
#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>

#define EVENT_MAX_BYTES (32 * 1024)
#define BATCH_MAX_BYTES (500 * 1024) /* a {"batch":[...]} line */

typedef struct nudge_event {
    cJSON *json;              /* the event object; owned by the reader */
    const char *type;         /* "track", "identify", "page", ... */
    const char *user_id;      /* NULL when absent */
    const char *anonymous_id; /* NULL when absent */
    const char *profile_id;   /* user_id, else anonymous_id */
    const char *name;         /* track: event; page/screen: name; else NULL */
    const char *message_id;   /* given, or derived from the content */
    int64_t ts_ms;            /* "timestamp", else receive time */
    long line;                /* input line, or element number in arrays */
    const char *raw;          /* the event's own JSON text (NUL-terminated)
                                 when it was one input line, else NULL */
    size_t raw_len;
    const char *traits_json; /* identify traits as text, set instead of
                                `json` by the threaded reader */
    const char *previous_id; /* alias: previousId, else NULL */
    char derived_id[48];     /* storage for a derived message_id */
} nudge_event;

/* Returns 0 to go on, non-zero to stop reading (a fatal store error). */
typedef int (*ingest_fn)(void *ctx, nudge_event *event);

typedef struct ingest_stats {
    long accepted, rejected;
} ingest_stats;

/* Checks the Segment shape of `obj` and fills `event`.  On failure returns
 * -1 and writes the reason into `why`.  `receive_ms` stands in for a
 * missing timestamp. */
int event_from_json(cJSON *obj, int64_t receive_ms, nudge_event *event, char *why,
                    size_t why_len);

/* Reads every event of `in` (named `source` in messages).  Returns 0, or
 * the callback's non-zero value if it stopped the read. */
int ingest_stream(FILE *in, const char *source, ingest_fn on_event, void *ctx,
                  ingest_stats *stats);

/* Like ingest_stream, but reads and parses on a second thread while the
 * callback runs on this one.  Events reach the callback with json == NULL
 * and raw, traits_json and every string field set.  Members named in
 * PII_FIELDS (see privacy_scrub_event) are masked in `raw`; traits_json
 * keeps them, for the profile's encrypted store. */
int ingest_stream_threaded(FILE *in, const char *source, char *const *pii_fields,
                           int pii_count, ingest_fn on_event, void *ctx,
                           ingest_stats *stats);

/* Copies the strings of EV (a checked event with json set) into one
 * malloc'd buffer, returned, and points OUT's fields at it, with json
 * NULL: raw is the event's text with the members named in PII_FIELDS
 * masked, traits_json an identify's traits as given (for the encrypted
 * store).  NULL when out of memory.  The threaded reader does this for
 * each event; `nudge serve` for each event of a request. */
char *ingest_flatten(char *const *pii_fields, int pii_count, const nudge_event *ev,
                     nudge_event *out);

#endif
