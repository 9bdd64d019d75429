/* The recipe host: loads recipe files into sandboxed Lua states (one per
 * recipe version, kept by content hash), answers trigger `where` filters,
 * and runs journey activations under deterministic replay.  The engine
 * sees recipes only through the plain C `recipe` struct. */
#ifndef NUDGE_HOST_H
#define NUDGE_HOST_H
#include "activation.h"
#include "privacy.h"
#include "sandbox.h"
#include "store.h"

#include "guard.h"

#define RECIPE_HASH_LEN 64

typedef struct recipe {
    char hash[RECIPE_HASH_LEN + 1]; /* BLAKE2b-256 of the source, hex */
    char *name, *path, *purpose;
    char *templates_json; /* journey{ templates = ... } as JSON, or NULL */
    char *trigger_event;  /* NULL for an audience trigger */
    int has_where;
    int where_reads_profile; /* where takes a second parameter (or ...) */
    int has_audience;        /* trigger = { audience = function(p), every = ... } */
    int64_t audience_every_ms;
    char **exit_on;
    int exit_on_count;
    char *goal_event;
    int64_t goal_within_ms; /* 0: no window */
    int reentry;            /* 0 never, 1 any time no instance is live */
    int64_t reentry_ms;     /* with reentry: minimum gap between entries */
    double holdout;
    guard_cap caps[GUARD_RULES_MAX]; /* the journey's own frequency caps */
    int cap_count;
    struct lua_State *L;                  /* private to host.c */
    int run_ref, where_ref, audience_ref; /* private to host.c */
} recipe;

typedef struct host host;

host *host_new(store *s, sandbox_limits limits);
void host_free(host *h);

/* Loads and validates a recipe file and saves its version.  Returns the
 * recipe (owned by the host) or NULL with a message naming file and line. */
recipe *host_load_file(host *h, const char *path, char *err, size_t err_len);

/* The recipe version with this hash, loaded from the store on first use.
 * NULL (and a message) if unknown or broken. */
recipe *host_recipe(host *h, const char *hash, char *err, size_t err_len);

/* Whether any loaded recipe version exits on, or has its goal at, `event`. */
int host_watches(host *h, const char *event);

/* The person whose profile trigger.where gets, as j:profile() shows it:
 * computed traits at `now_ms`, the PII the config exposes. */
typedef struct where_profile {
    const char *id;
    int64_t now_ms;
    privacy *privacy; /* NULL: no PII layer */
} where_profile;

/* Evaluates trigger.where(event, profile).  The profile is read from the
 * store only if `where` uses it.  1 match, 0 no match, -1 error. */
int host_where(host *h, recipe *r, const char *event_json, const where_profile *profile,
               char *err, size_t err_len);

/* Evaluates trigger.audience(profile) for one person, under the CPU
 * budget and memory cap of an activation: 1 match, 0 no match, -1 error
 * (err names the recipe line, or the limit that tripped). */
int host_audience(host *h, recipe *r, const where_profile *profile, char *err,
                  size_t err_len);

/* Runs the instance's journey from the top under replay until it ends or
 * parks.  Sets a->outcome (and a->error when it fails). */
void host_activate(host *h, recipe *r, activation *a);

#endif
