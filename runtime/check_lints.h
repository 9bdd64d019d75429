/* `nudge check`'s lints beyond templates (README, "What nudge check tells
 * you"): a j:send on a channel the config does not name (an error), a
 * j:wait_for on an event nothing produces and a goal that does not end the
 * journey (warnings). */
#ifndef NUDGE_CHECK_LINTS_H
#define NUDGE_CHECK_LINTS_H
#include "config.h"
#include "host.h"

#include <stdio.h>

/* The event names a sample of events holds, as journeys match them: track
 * events by their `event`, other calls by their type ("identify", ...). */
typedef struct event_sample {
    char **names; /* sorted, each once */
    int count, capacity;
} event_sample;

/* Reads every event of IN (named LABEL in messages; rejected events are
 * reported as `nudge run` reports them) into SAMPLE, which starts zeroed.
 * 0, or -1 when out of memory (logged). */
int check_sample_read(FILE *in, const char *label, event_sample *sample);
int check_sample_has(const event_sample *sample, const char *name);
void check_sample_free(event_sample *sample);

/* What the lints of one recipe look at besides the recipe itself. */
typedef struct lint_context {
    const config *cfg;
    const event_sample *sample;  /* --events; NULL: no wait_for warnings */
    const char *sample_label;    /* the --events file, as the messages name it */
    const char *const *triggers; /* every loaded recipe's trigger event */
    int trigger_count;
    FILE *out;
} lint_context;

/* Lints RECIPE_PATH (SOURCE: its text; R: the recipe loaded from it, or
 * NULL) and prints one line per problem to lc->out: "FILE:LINE: message"
 * for an error, "FILE:LINE: warning: message" for a warning.  Returns the
 * number of errors; *WARNINGS grows by the number of warnings. */
int check_recipe_lints(const lint_context *lc, const char *recipe_path,
                       const char *source, const recipe *r, int *warnings);

#endif
