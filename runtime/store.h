/* The durable store: one SQLite file in WAL mode holding profiles, events,
 * recipe versions, journey instances with their history, timers, the
 * outbox and the message log.  Statements are prepared once per
 * connection; callers group work into explicit transactions. */
#ifndef NUDGE_STORE_H
#define NUDGE_STORE_H
#include "write_turn.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 5

typedef struct store store;

enum instance_state {
    INSTANCE_RUNNING = 0, /* between activations inside one transaction */
    INSTANCE_WAITING = 1, /* parked on a pending j:wait / j:wait_for */
    INSTANCE_COMPLETED = 2,
    INSTANCE_EXITED = 3,
    INSTANCE_FAILED = 4,
};

/* One journey instance row.  Strings are owned by the struct (see
 * store_instance_free). */
typedef struct instance {
    int64_t id;
    char *journey; /* journey name */
    char *version; /* recipe content hash */
    char *profile_id;
    int state;                             /* enum instance_state */
    int holdout;                           /* 1: control group, sends are not queued */
    int64_t started_ms, ended_ms, goal_ms; /* 0 when not (yet) */
    int64_t trigger_event_id;              /* the events row that started it */
    char *trigger_json;     /* its text once read (activation.c); not stored */
    int steps;              /* history entries recorded so far */
    char *pending_kind;     /* "wait", "wait_for" or NULL */
    char *pending_event;    /* event awaited by wait_for, or NULL */
    int64_t pending_due_ms; /* timer, 0 for none */
    int pending_line;       /* recipe line of the pending call */
    char *exit_reason, *error;
} instance;

typedef struct history_entry {
    char *kind;   /* the j: call, e.g. "now", "send", "wait" */
    char *result; /* its result as JSON text */
} history_entry;

int store_open(const char *path, store **out, char *err, size_t err_len);
void store_close(store *s);
sqlite3 *store_db(store *s);

/* Transactions: BEGIN IMMEDIATE, COMMIT, ROLLBACK.  On a store that shares
 * writes (below), store_begin first waits for its turn, and the commit or
 * rollback ends it. */
int store_begin(store *s);
int store_commit(store *s);
int store_rollback(store *s);

/* A read transaction: the statements until store_snapshot_end see one
 * snapshot of the database, and writers go on beside it (WAL). */
int store_snapshot_begin(store *s);
void store_snapshot_end(store *s);

/* Makes S take turns at the write lock (write_turn.h) as ROLE with the
 * other connections of this process given the same TURNS (kept, not
 * owned; NULL stops). */
void store_share_writes(store *s, write_turn *turns, enum write_role role);

/* The integer of a one-row, one-column query (a count, a max), or -1. */
int64_t store_scalar(store *s, const char *sql);

/* Key/value metadata (the event clock, the file channel's offset). */
int store_meta_get(store *s, const char *key, int64_t *value); /* 1 found, 0 not */
int store_meta_set(store *s, const char *key, int64_t value);

/* Events.  Returns 1 when inserted, 0 for a duplicate messageId, -1 error. */
int store_event_insert(store *s, const char *message_id, const char *type,
                       const char *name, const char *profile_id, const char *user_id,
                       const char *anonymous_id, int64_t ts_ms, const char *json,
                       int json_len);

/* The rowid of the event last inserted on this connection. */
int64_t store_last_insert_id(store *s);
/* An event's JSON text (malloc'd), or NULL. */
char *store_event_body(store *s, int64_t event_id);

/* Profiles: merge identify traits (a JSON object). */
int store_profile_merge_traits(store *s, const char *profile_id, const char *traits_json);
/* Returns the profile as JSON text (malloc'd): its traits (PII masked),
 * "id", and the computed traits read from its events: "first_seen",
 * "last_seen" (Unix seconds), "events" ({NAME = {count, last_at}}),
 * "order_count", "revenue_total" and "days_since_last_order" (counted
 * from now_ms; absent without orders). */
char *store_profile_json(store *s, const char *profile_id, int64_t now_ms);
/* 1 when the profile has traits or events, 0 when not, -1 on error. */
int store_profile_exists(store *s, const char *profile_id);

/* A page of the profile walk (audience triggers): the ids of up to MAX
 * profiles — those with traits and those known by their events only — in
 * id order, after AFTER (NULL: from the first), each malloc'd into IDS.
 * How many (0 at the end), or -1.  Keyset pagination: a page costs the
 * same wherever it starts, and nothing stays open between pages. */
int store_profile_page(store *s, const char *after, char **ids, int max);

/* How many of the profile's events named EVENT fall in (since_ms, until_ms]. */
int64_t store_event_count(store *s, const char *profile_id, const char *event,
                          int64_t since_ms, int64_t until_ms);
/* The body of the profile's latest event named EVENT at or before
 * until_ms (malloc'd), or NULL. */
char *store_event_last(store *s, const char *profile_id, const char *event,
                       int64_t until_ms);

/* Runs SQL once: ?1 and ?2 bound to text (NULL allowed), ?3 to N; for the
 * rare statements not worth caching.  0 or -1 (logged). */
int store_run(store *s, const char *sql, const char *a, const char *b, int64_t n);

/* Sealed secrets by name (the blind-index key): get returns 1 with `len`
 * bytes copied, 0 when absent, -1. */
int store_secret_get(store *s, const char *name, unsigned char *sealed, size_t len);
int store_secret_put(store *s, const char *name, const unsigned char *sealed, size_t len);

/* A profile's protected columns: its data key sealed by the master key,
 * its PII fields as one encrypted record, and the blind indexes of its
 * email and phone (NULL: none). */
typedef struct store_secret_row {
    const unsigned char *sealed, *pii;
    size_t sealed_len, pii_len;
    const unsigned char *email_blind, *phone_blind; /* 32 bytes each */
} store_secret_row;

/* The sealed key (exactly sealed_len bytes) and the PII record (*pii
 * malloc'd, NULL when none).  1 found, 0 no key yet, -1 error. */
int store_profile_secret_get(store *s, const char *profile_id, unsigned char *sealed,
                             size_t sealed_len, unsigned char **pii, size_t *pii_len);
/* Merges traits (a JSON object) and replaces the protected columns, in one
 * row write (the profile is created if new). */
int store_profile_secret_put(store *s, const char *profile_id, const char *traits_json,
                             const store_secret_row *row);
/* Key rotation: the next profile after AFTER (updated in place) with its
 * sealed key: 1, 0 at the end, -1; and the re-sealed key's write. */
int store_profile_sealed_next(store *s, char *after, size_t after_len,
                              unsigned char *sealed, size_t sealed_len);
int store_profile_sealed_set(store *s, const char *profile_id,
                             const unsigned char *sealed, size_t len);
/* The profile whose email ("email") or phone ("phone") blind index is
 * DIGEST (malloc'd), or NULL. */
char *store_profile_find(store *s, const char *kind, const unsigned char digest[32]);
/* Why one of the profile's addresses is suppressed (malloc'd), or NULL. */
char *store_suppression_reason(store *s, const char *profile_id);
/* The suppression list by blind index: the entry's reason (malloc'd) or
 * NULL; add or update an entry (a "forgotten" one is never changed);
 * remove one (never a "forgotten" one). */
char *store_suppression_of(store *s, const char *kind, const unsigned char digest[32]);
int store_suppress(store *s, const char *kind, const unsigned char digest[32],
                   const char *reason, int64_t now_ms);
int store_unsuppress(store *s, const char *kind, const unsigned char digest[32]);

/* Anonymous ids linked to profiles (alias, identify with both ids). */
char *store_identity_resolve(store *s, const char *anonymous_id);
int store_identity_link(store *s, const char *anonymous_id, const char *profile_id,
                        int64_t now_ms);
/* Moves everything of FROM to INTO: events, instances (a live duplicate in
 * the same journey ends, the older kept), messages, lookups, traits
 * (INTO's win); drops FROM's PII and key (the caller re-encrypts what INTO
 * lacks first) and records the merge.  Returns how many duplicate
 * instances it ended, or -1. */
int store_profile_merge(store *s, const char *from, const char *into, int64_t now_ms);
/* The rows of SQL (with ?1 bound to ID) as a JSON array of objects;
 * columns named NAME_json are parsed and shown as NAME.  NULL on error. */
struct cJSON *store_rows_json(store *s, const char *sql, const char *id);

/* Erasure: suppresses the person's blind indexes, destroys the data key,
 * deletes PII, traits, events, identities, history and the message log,
 * ends live instances ("forgotten") and cancels queued messages. */
int store_profile_forget(store *s, const char *profile_id, int64_t now_ms);

/* A top-level string trait of the profile (malloc'd), or NULL. */
char *store_profile_trait(store *s, const char *profile_id, const char *trait);

/* The latest `context.timezone` among the profile's events (malloc'd), or
 * NULL.  Read on demand, so events carrying it cost nothing extra. */
char *store_profile_context_timezone(store *s, const char *profile_id);

/* The consent ledger, append-only: one record per change of a person's
 * consent for a channel and purpose (rules: consent.h).  Strings are
 * borrowed; proof may be NULL. */
typedef struct consent_row {
    const char *profile_id, *channel;
    const char *purpose; /* "marketing" or "transactional" */
    const char *status;  /* "granted" or "revoked" */
    int64_t at_ms;
    const char *source, *proof; /* "identify", "event", "cli", ...; free text */
} consent_row;
/* Appends a record.  0, or -1 (logged). */
int store_consent_append(store *s, const consent_row *r);
/* The status in force at AT_MS (INT64_MAX: now) for the profile, channel
 * and purpose: the record with the latest time at or before it, ties to
 * the later record.  1 found (*granted set to 1 or 0), 0 no record, -1. */
int store_consent_latest(store *s, const char *profile_id, const char *channel,
                         const char *purpose, int64_t at_ms, int *granted);
/* The profile's records, oldest first (time, then order recorded), as
 * rows: channel, purpose, status, at_ms, source, proof (?1: the profile). */
#define STORE_CONSENT_HISTORY_SQL                                                        \
    "SELECT channel, purpose, status, at_ms, source, proof FROM consent"                 \
    " WHERE profile_id = ?1 ORDER BY at_ms, id"
/* Calls fn for each of them; fn's non-zero return stops the walk and is
 * returned.  -1 on a store error. */
int store_consent_history(store *s, const char *profile_id,
                          int (*fn)(void *ctx, const consent_row *r), void *ctx);
/* The same as a JSON array of objects (store_rows_json), or NULL. */
struct cJSON *store_consent_json(store *s, const char *profile_id);

/* Recipe versions by content hash. */
int store_recipe_put(store *s, const char *hash, const char *name, const char *path,
                     const char *source, int64_t now_ms);
/* Keeps the recipe version's own templates (journey{ templates }, JSON)
 * for delivery. */
int store_recipe_set_templates(store *s, const char *hash, const char *templates_json);
/* Returns 1 and malloc'd source/path if found, 0 if not, -1 on error. */
int store_recipe_get(store *s, const char *hash, char **source, char **path);

/* Journey instances. */
/* Inserts with inst->id when it is set, else sets it to the new rowid. */
int store_instance_insert(store *s, instance *inst);
/* The id the next inserted instance would get (max + 1), or -1. */
int64_t store_instance_next_id(store *s);
/* How many instances are running or waiting. */
int64_t store_instances_live_count(store *s);

/* One row of the census `nudge check` shows: instances per journey,
 * recipe version, state and step. */
typedef struct census_row {
    const char *journey, *version, *path, *pending_kind;
    int state, pending_line;
    int64_t count;
} census_row;
int store_instance_census(store *s, void (*fn)(void *ctx, const census_row *row),
                          void *ctx);
int store_instance_update(store *s, const instance *inst);
int store_instance_load(store *s, int64_t id, instance *out); /* 1 found, 0 not */
void store_instance_free(instance *inst);
/* Calls fn for each live (running/waiting) instance of the profile, in id
 * order; fn's non-zero return stops the walk and is returned. */
int store_instances_live(store *s, const char *profile_id,
                         int (*fn)(void *ctx, instance *inst), void *ctx);
/* Like store_instances_live, but only the instances parked on a
 * j:wait_for of `event`. */
int store_instances_waiting_for(store *s, const char *profile_id, const char *event,
                                int (*fn)(void *ctx, instance *inst), void *ctx);
/* Calls fn with the hash of each recipe version that has live instances. */
int store_live_versions(store *s, int (*fn)(void *ctx, const char *hash), void *ctx);
/* The latest instance of journey for profile: 1 found (fills state and
 * started_ms), 0 none. */
int store_instance_latest(store *s, const char *journey, const char *profile_id,
                          int *state, int64_t *started_ms);

/* Marks the goal reached at NOW_MS on the person's latest instance of
 * JOURNEY when that instance has ended, has no goal yet and started
 * within WITHIN_MS (0: any time) before.  0, or -1. */
int store_instance_goal_after_end(store *s, const char *journey, const char *profile_id,
                                  int64_t now_ms, int64_t within_ms);

/* History of j: calls, in step order. */
int store_history_load(store *s, int64_t instance_id, history_entry **entries,
                       int *count);
void store_history_free(history_entry *entries, int count);
int store_history_append(store *s, int64_t instance_id, int seq, const char *kind,
                         const char *result);

/* Timers: at most one per instance. */
int store_timer_set(store *s, int64_t instance_id, int64_t due_ms);
int store_timer_clear(store *s, int64_t instance_id, int64_t due_ms);
/* The due time of the earliest timer, or INT64_MAX when there is none. */
int64_t store_timer_earliest(store *s);
/* The earliest timer due at or before now: 1 found, 0 none. */
int store_timer_next(store *s, int64_t now_ms, int64_t *instance_id, int64_t *due_ms);

/* Outbox.  Messages are queued in the journey's transaction; the sender
 * marks them sending, then delivered or failed. */
typedef struct outbox_message {
    int64_t id, instance_id, created_ms;
    char *idempotency_key, *journey, *profile_id, *channel, *template_name, *vars_json;
    char *purpose;
    char *recipe_path; /* the file of the instance's recipe version (NULL: unknown) */
    char *recipe_templates; /* that version's journey{ templates } as JSON, or NULL */
    int attempts;           /* tries so far */
    int blocked;            /* set by the deliverer: stopped at the second check */
    int sent; /* set by the deliverer: handled by a sender, not the file channel */
} outbox_message;

int store_outbox_insert(store *s, const char *key, int64_t instance_id,
                        const char *journey, const char *profile_id, const char *channel,
                        const char *template_name, const char *vars_json,
                        int64_t created_ms);
/* Sets a queued message's purpose and, with not_before_ms > 0, defers it
 * (status "deferred") until then. */
int store_outbox_hold(store *s, const char *key, const char *purpose,
                      int64_t not_before_ms);
/* Deferred messages due at now_ms become "queued" again: how many, or -1. */
int store_outbox_release(store *s, int64_t now_ms);
/* Messages waiting to be tried again ("retry") whose retry_at_ms (wall
 * time) has come become "queued": how many, or -1. */
int store_outbox_release_retries(store *s, int64_t wall_ms);
/* 1 when a deferred message is due at now_ms or a retry at wall_ms (what
 * the two releases above would queue), 0 when none, -1 on error. */
int store_outbox_due(store *s, int64_t now_ms, int64_t wall_ms);
/* Messages still to deliver (queued, sending, retry, deferred), or -1. */
int64_t store_outbox_depth(store *s);
/* The earliest retry_at_ms of the messages waiting to be tried again, 0
 * when none is, -1 on error. */
int64_t store_outbox_next_retry(store *s);
/* A sender's outcome for message ID: its status ("delivered", "retry",
 * "failed"), tries so far, when to try again (status "retry") and the
 * provider's answer (may be NULL). */
int store_outbox_outcome(store *s, int64_t id, const char *status, int attempts,
                         int64_t retry_at_ms, const char *response, int64_t at_ms);
/* Loads up to max messages with the given status ("queued", "sending") in id
 * order. */
int store_outbox_fetch(store *s, const char *status, int max, outbox_message **out,
                       int *count);
void store_outbox_free(outbox_message *msgs, int count);
int store_outbox_set_status(store *s, int64_t id, const char *status, int64_t at_ms);
/* Moves the messages with ids first..last from status `from` to `to`:
 * how many moved, or -1. */
int store_outbox_move(store *s, int64_t first, int64_t last, const char *from,
                      const char *to, int64_t at_ms);

/* How many messages were queued or deferred for the person after after_ms,
 * on CHANNEL and of JOURNEY (NULL: any), for frequency caps; -1 on error. */
int64_t store_message_count(store *s, const char *profile_id, const char *channel,
                            const char *journey, int64_t after_ms);

/* Message log: every outcome of every message, with its reason. */
typedef struct message_log_row {
    int64_t instance_id;
    const char *profile_id, *journey, *channel, *template_name;
    const char *outcome;         /* "queued", "holdout", "suppressed", "capped", ... */
    const char *reason, *detail; /* NULL or "" for none */
    int64_t at_ms;
} message_log_row;
int store_message_log(store *s, const message_log_row *row);

#endif
