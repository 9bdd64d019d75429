/* The service's inbox: events `nudge serve` has acknowledged and not yet
 * run, in their own SQLite file beside the database (DB.inbox), so a 200
 * costs one small commit there and never waits for the journeys.  One row
 * per request: its flattened events packed (inbox_pack) and encrypted
 * (XChaCha20-Poly1305 under the inbox key, the row id as associated data),
 * since identify traits carry PII.  The database's meta `inbox_done`, moved
 * in the engine's own transactions, says which rows have run; rows up to it
 * are deleted later (secure_delete).  Plain C over SQLite and libsodium. */
#ifndef NUDGE_INBOX_H
#define NUDGE_INBOX_H
#include "ingest.h"
#include "vault.h"

#include <stddef.h>
#include <stdint.h>

typedef struct inbox inbox;

/* One connection to the inbox at PATH, created if missing; KEY seals and
 * opens its rows.  NULL with a message in ERR. */
inbox *inbox_open(const char *path, const unsigned char key[VAULT_KEY_LEN], char *err,
                  size_t err_len);
void inbox_close(inbox *b);

/* The highest row id there is (0: none), or -1. */
int64_t inbox_last_id(inbox *b);

/* The events in the rows after AFTER, or -1. */
int64_t inbox_events_after(inbox *b, int64_t after);

/* Without a key or a connection: the events in the rows after AFTER of
 * the inbox at PATH (0 when there is no such file), or -1. */
int64_t inbox_waiting(const char *path, int64_t after);

/* The writer's transaction: rows added with inbox_add are durable once
 * inbox_commit returns 0. */
int inbox_begin(inbox *b);
int inbox_commit(inbox *b);
void inbox_rollback(inbox *b);

/* Adds row ID holding COUNT events packed in PACKED (LEN bytes). */
int inbox_add(inbox *b, int64_t id, const void *packed, size_t len, int count);

/* Deletes the rows up to UPTO (those that have run). */
int inbox_prune(inbox *b, int64_t upto);

/* Packs COUNT flattened events (ingest_flatten) into one malloc'd buffer.
 * NULL when out of memory. */
void *inbox_pack(const nudge_event *events, int count, size_t *len);

/* Unpacks COUNT events from ROW (LEN bytes, as inbox_pack wrote it) into
 * OUT; their strings point into ROW.  0, or -1 when it does not hold
 * exactly COUNT whole events. */
int inbox_unpack(char *row, size_t len, int count, nudge_event *out);

/* Rows read back, their events pointing into the opened rows. */
typedef struct inbox_batch {
    nudge_event *events;
    int count;
    int64_t last_id; /* the last row read */
    char **rows;     /* the opened rows, zeroed and freed by inbox_batch_free */
    size_t *row_lens;
    int row_count;
} inbox_batch;

/* Reads the rows after AFTER, oldest first, whole rows until MAX_EVENTS
 * events (at least one row).  1 with BATCH filled, 0 when there is none,
 * -1 (logged: a read error, or a row that does not open or unpack). */
int inbox_read(inbox *b, int64_t after, int max_events, inbox_batch *batch);
void inbox_batch_free(inbox_batch *batch);

#endif
