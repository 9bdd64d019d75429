/* Profile import, the parsing half: reads profiles (an id and string or JSON
 * traits) from CSV with a header row, or from NDJSON, and hands each good
 * row to a callback.  Bad rows are logged with their line and reason,
 * counted, and skipped.  Storing the rows is the caller's business. */
#ifndef NUDGE_IMPORT_H
#define NUDGE_IMPORT_H
#include <cJSON.h>
#include <stdio.h>

#define IMPORT_ROW_MAX_BYTES (64 * 1024) /* one row, without its line ending */

typedef struct import_row {
    long line;              /* first physical line of the row, 1-based */
    const char *profile_id; /* the row's id */
    cJSON *traits;          /* an object; the callee may detach items but not free it */
} import_row;

typedef struct import_stats {
    long rows, accepted, rejected; /* rows = accepted + rejected */
} import_stats;

/* Reads every row of `in`, named `source` in messages.  The format comes
 * from the extension of `source` (.csv; .ndjson, .jsonl or .json for
 * NDJSON), else from the input: a first non-blank byte '{' means NDJSON,
 * anything else CSV.  A UTF-8 byte order mark is skipped.
 *
 * CSV: the first row is the header; the id column is the first present of
 * "id", "userId", "user_id", every other column a string trait (empty
 * cells are left out).  NDJSON: {"userId": ..., "traits": {...}} ("id"
 * may stand for "userId"), or a flat object whose other keys are traits.
 *
 * Calls row() for each good row; row() returns 0 to go on, non-zero to
 * stop.  Bad rows are logged as warnings ("SOURCE:LINE: reason").  Adds to
 * *stats (may be NULL).  Returns 0; row()'s value if it stopped the read;
 * or -1 on a read error, out of memory, or a CSV header that cannot be
 * used (logged as an error; no row is read). */
int import_stream(FILE *in, const char *source,
                  int (*row)(void *ctx, const import_row *r), void *ctx,
                  import_stats *stats);

#endif
