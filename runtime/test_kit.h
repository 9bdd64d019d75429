/* The recipe test kit behind `nudge test` (SPEC §9).  A test_kit is one
 * test case's world: a throwaway store in a fresh folder under $TMPDIR
 * with its own key, the recipes under test, the engine under a virtual
 * clock and the user's guardrails; the steps and expectations of the `s`
 * handle call it.  Delivery is captured (deliver_capture.c), never sent.
 * Plain C (test_kit.c); the Lua side, lua/l_test.c, is declared below. */
#ifndef NUDGE_TEST_KIT_H
#define NUDGE_TEST_KIT_H
#include "cli.h"

#include <stdint.h>

#define KIT_NOW INT64_MIN                /* a step's time: the current virtual time */
#define KIT_START "2026-01-05T09:00:00Z" /* the clock when a case names no time */

typedef struct test_kit test_kit;

/* A captured message. */
typedef struct kit_message {
    char *channel, *profile, *template_name, *journey;
    char *vars_json;                  /* j:send's vars */
    char *status;                     /* "delivered", "failed", "suppressed" */
    char *reason;                     /* failed or suppressed: why (NULL otherwise) */
    char *to, *subject, *text, *html; /* as composed (NULL: none) */
    int64_t at_ms;                    /* the virtual time it was delivered */
} kit_message;

/* What expect_sent and expect_not_sent look for: NULL fields match any. */
typedef struct kit_filter {
    const char *channel, *profile, *template_name, *journey;
    const char *text;   /* a plain substring of the text, HTML or subject */
    const char *status; /* NULL: "delivered" */
    int count;          /* expect_sent: exactly this many; -1: at least one */
} kit_filter;

/* Opens a case's world with C's config (its consent default, caps, quiet
 * hours, channels, time zone and limits) and loads the RECIPES.  *OUT is
 * set either way and closed with kit_close.  0, or -1 with ERR (a recipe
 * error names the file and line). */
int kit_open(const cli *c, char *const *recipes, int recipe_count, test_kit **out,
             char *err, size_t err_len);
/* Frees everything and removes the folder. */
void kit_close(test_kit *k);

/* Steps, at AT_MS or KIT_NOW.  The clock starts at the first explicit
 * time; steps without one before it happen then.  Each step fires the
 * timers due before it and captures what is due after it.  0, or -1 with
 * ERR: a time before the clock, a store error, or a journey that failed in
 * the step (its recipe's error).  An event of TYPE "identify" (BODY_JSON:
 * the traits), "track" (NAME: the event) or "page" (NAME: the page), by
 * userId PROFILE; BODY_JSON (NULL: none) is the properties. */
int kit_event(test_kit *k, const char *type, const char *profile, const char *name,
              const char *body_json, int64_t at_ms, char *err, size_t err_len);
/* Records consent (source "test") for CHANNEL and PURPOSE (NULL:
 * "marketing"). */
int kit_consent(test_kit *k, const char *profile, const char *channel,
                const char *purpose, int granted, int64_t at_ms, char *err,
                size_t err_len);
/* In a test nobody is held out; HELD 1 puts PROFILE in the control group
 * of each journey that has a holdout, for the journeys it enters from now
 * on (0 takes it out).  0, or -1 when out of memory. */
int kit_holdout(test_kit *k, const char *profile, int held);
/* Moves the clock by BY_MS, or to TO_MS (when BY_MS < 0): every timer,
 * deferred message and audience pass in due order, each at its own time. */
int kit_advance(test_kit *k, int64_t by_ms, int64_t to_ms, char *err, size_t err_len);

/* The virtual time (starting the clock if no step has).  -1 with ERR on
 * failure. */
int64_t kit_now(test_kit *k, char *err, size_t err_len);
/* The messages captured so far, in order.  0, or -1 with ERR. */
int kit_messages(test_kit *k, const kit_message **messages, int *count, char *err,
                 size_t err_len);

/* Expectations: 0 met, 1 not met (WHY says what was expected and what
 * happened), -1 misused or failed (WHY says why).  WANT_SENT 0 expects no
 * message matching F. */
int kit_expect_sent(test_kit *k, const kit_filter *f, int want_sent, char *why,
                    size_t why_len);
/* The person's latest instance of JOURNEY is in STATE ("running",
 * "waiting", "completed", "exited", "failed").  PROFILE may be NULL when
 * the case touched one person, JOURNEY when one recipe is loaded. */
int kit_expect_state(test_kit *k, const char *profile, const char *journey,
                     const char *state, char *why, size_t why_len);

/* For the report of a failing case, as it stands (the clock is not
 * started): the store, the people whose story to tell (the one a failed
 * expectation named, else everyone the case touched) and the messages
 * captured; each returns the count. */
store *kit_store(test_kit *k);
int kit_story_profiles(const test_kit *k, const char *const **ids);
int kit_captured(const test_kit *k, const kit_message **messages);

/* ---- lua/l_test.c: the test files -------------------------------------- */

typedef struct l_test_file l_test_file;

/* Runs the test file at PATH in a sandboxed Lua state (MEMORY_BYTES: the
 * config's cap; 0: the default) so that its t.case and t.recipe calls
 * register.  NULL with ERR (naming the file and line) on failure. */
l_test_file *l_test_load(const char *path, size_t memory_bytes, char *err,
                         size_t err_len);
void l_test_close(l_test_file *f);

int l_test_case_count(const l_test_file *f);
const char *l_test_case_name(const l_test_file *f, int i);
/* The recipes named by t.recipe, as paths from the current folder. */
int l_test_recipe_count(const l_test_file *f);
const char *l_test_recipe(const l_test_file *f, int i);

/* Runs case I with `s` bound to K: 0 passed, 1 failed (WHY: the error,
 * naming the test file line). */
int l_test_run_case(l_test_file *f, int i, test_kit *k, char *why, size_t why_len);

#endif
