/* `nudge check`'s lints beyond templates: channels the config does not
 * name, j:wait_for on events that never come, goals that do not end the
 * journey.  The recipe is read with check_templates.c's source scanner. */
#include "check_lints.h"

#include "check_templates.h"
#include "ingest.h"
#include "log.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define SUGGEST_DISTANCE 2 /* "did you mean": at most this many edits away */

/* ---- the event names of a sample ------------------------------------------- */

/* Where NAME is, or would go, in SAMPLE's sorted names; *FOUND says which. */
static int sample_position(const event_sample *sample, const char *name, int *found)
{
    int low = 0, high = sample->count;
    while (low < high) {
        int middle = low + (high - low) / 2, order = strcmp(sample->names[middle], name);
        if (!order) return *found = 1, middle;
        if (order < 0)
            low = middle + 1;
        else
            high = middle;
    }
    return *found = 0, low;
}

int check_sample_has(const event_sample *sample, const char *name)
{
    int found;
    sample_position(sample, name, &found);
    return found;
}

/* Adds NAME to SAMPLE unless it is there.  0, or -1 when out of memory. */
static int sample_add(event_sample *sample, const char *name)
{
    int found, at = sample_position(sample, name, &found);
    if (found) return 0;
    if (sample->count == sample->capacity) {
        int capacity = sample->capacity ? 2 * sample->capacity : 16;
        char **grown = realloc(sample->names, (size_t)capacity * sizeof *grown);
        if (!grown) return -1;
        sample->names = grown, sample->capacity = capacity;
    }
    char *copy = strdup(name);
    if (!copy) return -1;
    memmove(sample->names + at + 1, sample->names + at,
            (size_t)(sample->count - at) * sizeof *sample->names);
    sample->names[at] = copy;
    sample->count++;
    return 0;
}

/* Journeys match track events by name and other calls by type (engine.c). */
static int on_sample_event(void *ctx, nudge_event *event)
{
    const char *name = strcmp(event->type, "track") ? event->type : event->name;
    return name ? sample_add(ctx, name) : 0;
}

int check_sample_read(FILE *in, const char *label, event_sample *sample)
{
    ingest_stats stats = {0, 0};
    if (ingest_stream(in, label, on_sample_event, sample, &stats))
        return log_error("%s: out of memory reading the events", label), -1;
    return 0;
}

void check_sample_free(event_sample *sample)
{
    for (int i = 0; i < sample->count; i++)
        free(sample->names[i]);
    free(sample->names);
    memset(sample, 0, sizeof *sample);
}

/* ---- "did you mean" ---------------------------------------------------------- */

/* The edit distance between A and B, ignoring case (one insertion,
 * deletion or substitution each), or LIMIT + 1 when it is more than LIMIT. */
static int edit_distance(const char *a, const char *b, int limit)
{
    size_t n = strlen(a), m = strlen(b);
    int row[CHECK_MAX_LITERAL + 1];
    if (m > CHECK_MAX_LITERAL || (n > m ? n - m : m - n) > (size_t)limit)
        return limit + 1;
    for (size_t j = 0; j <= m; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int diagonal = row[0], best = row[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int above = row[j];
            int cost = diagonal + (tolower((unsigned char)a[i - 1]) !=
                                   tolower((unsigned char)b[j - 1]));
            if (above + 1 < cost) cost = above + 1;
            if (row[j - 1] + 1 < cost) cost = row[j - 1] + 1;
            diagonal = above, row[j] = cost;
            if (cost < best) best = cost;
        }
        if (best > limit) return limit + 1;
    }
    return row[m] > limit ? limit + 1 : row[m];
}

/* The closest of the COUNT NAMES to WANTED, at most SUGGEST_DISTANCE edits
 * away (the first of equals), or NULL. */
static const char *closest(const char *wanted, const char *const *names, int count)
{
    const char *best = NULL;
    int best_distance = SUGGEST_DISTANCE + 1;
    for (int i = 0; i < count; i++) {
        if (!names[i] || !strcmp(wanted, names[i])) continue;
        int d = edit_distance(wanted, names[i], SUGGEST_DISTANCE);
        if (d < best_distance) best = names[i], best_distance = d;
    }
    return best;
}

/* ---- j:send on a channel the config does not name (error) --------------------- */

typedef struct recipe_lint {
    const lint_context *context;
    const char *recipe_path;
    const recipe *recipe;
    const char *channels[GUARD_RULES_MAX]; /* the config's, sorted */
    int channel_count;
    int errors, warnings;
    int waits_for_goal; /* a literal j:wait_for(goal.event) is in the recipe */
} recipe_lint;

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void check_channel(void *ctx, const literal_call *call)
{
    recipe_lint *lint = ctx;
    const char *channel = call->literals[0];
    char names[GUARD_RULES_MAX * (GUARD_CHANNEL_MAX + 2)] = "", what_to_do[400];
    if (!call->literal_count || config_channel(lint->context->cfg, channel)) return;
    for (int i = 0; i < lint->channel_count; i++)
        strcat(strcat(names, i ? ", " : ""), lint->channels[i]);
    const char *suggestion = closest(channel, lint->channels, lint->channel_count);
    if (suggestion)
        snprintf(what_to_do, sizeof what_to_do, "did you mean '%s'?", suggestion);
    else
        snprintf(what_to_do, sizeof what_to_do,
                 "use one of those, or add channels.%s to the config", channel);
    fprintf(lint->context->out,
            "%s:%d: %s:send(\"%s\", %s%s%s): no channel '%s' in the "
            "config (it has: %s); %s\n",
            lint->recipe_path, call->line, call->receiver, channel,
            call->literal_count > 1 ? "\"" : "",
            call->literal_count > 1 ? call->literals[1] : "...",
            call->literal_count > 1 ? "\"" : "", channel, names, what_to_do);
    lint->errors++;
}

/* ---- j:wait_for on an event nothing produces (warning) ------------------------ */

static int is_trigger(const lint_context *lc, const char *event)
{
    for (int i = 0; i < lc->trigger_count; i++)
        if (lc->triggers[i] && !strcmp(lc->triggers[i], event)) return 1;
    return 0;
}

static void note_goal_wait(void *ctx, const literal_call *call)
{
    recipe_lint *lint = ctx;
    const char *goal = lint->recipe ? lint->recipe->goal_event : NULL;
    if (call->literal_count && goal && !strcmp(call->literals[0], goal))
        lint->waits_for_goal = 1;
}

static void check_wait_for(void *ctx, const literal_call *call)
{
    recipe_lint *lint = ctx;
    const lint_context *lc = lint->context;
    const char *event = call->literals[0], *suggestion;
    char hint[CHECK_MAX_LITERAL + 40] = "";
    if (!call->literal_count || check_sample_has(lc->sample, event) ||
        is_trigger(lc, event))
        return;
    suggestion =
        closest(event, (const char *const *)lc->sample->names, lc->sample->count);
    if (!suggestion) suggestion = closest(event, lc->triggers, lc->trigger_count);
    if (suggestion) snprintf(hint, sizeof hint, "; did you mean \"%s\"?", suggestion);
    fprintf(
        lc->out,
        "%s:%d: warning: %s:wait_for(\"%s\"): no event \"%s\" in %s and no journey is "
        "triggered by it; this wait will always time out%s\n",
        lint->recipe_path, call->line, call->receiver, event, event, lc->sample_label,
        hint);
    lint->warnings++;
}

/* ---- a goal that does not end the journey (warning) --------------------------- */

/* Unless the journey exits on its goal, or waits for it itself (then an
 * exit would end the journey before its wait_for sees the event). */
static void check_goal(recipe_lint *lint, const char *source)
{
    const recipe *r = lint->recipe;
    char list[2048] = "";
    size_t used = 0;
    if (!r || !r->goal_event || lint->waits_for_goal) return;
    for (int i = 0; i < r->exit_on_count; i++) {
        if (!strcmp(r->exit_on[i], r->goal_event)) return;
        used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0,
                                 "\"%s\", ", r->exit_on[i]);
    }
    if (used >= sizeof list) used = sizeof list - 1, list[used] = '\0';
    fprintf(
        lint->context->out,
        "%s:%d: warning: the goal \"%s\" is not in exit_on, so a person who reaches it "
        "still gets the rest of the journey; %s exit_on = { %s\"%s\" } if that is not "
        "what you want\n",
        lint->recipe_path, check_journey_line(source), r->goal_event,
        r->exit_on_count ? "make it" : "add", list, r->goal_event);
    lint->warnings++;
}

int check_recipe_lints(const lint_context *lc, const char *recipe_path,
                       const char *source, const recipe *r, int *warnings)
{
    recipe_lint lint = {.context = lc, .recipe_path = recipe_path, .recipe = r};
    for (int i = 0; i < lc->cfg->channel_count && i < GUARD_RULES_MAX; i++)
        lint.channels[lint.channel_count++] = lc->cfg->channels[i].name;
    qsort(lint.channels, (size_t)lint.channel_count, sizeof *lint.channels, by_name);
    if (lint.channel_count) check_find_calls(source, "send", check_channel, &lint);
    if (lc->sample) check_find_calls(source, "wait_for", check_wait_for, &lint);
    check_find_calls(source, "wait_for", note_goal_wait, &lint);
    check_goal(&lint, source);
    *warnings += lint.warnings;
    return lint.errors;
}
