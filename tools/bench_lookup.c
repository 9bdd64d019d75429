/* bench_lookup: email lookups per second through the blind index
 * (privacy_find) on a database filled by `nudge profile import`.
 * Usage: bench_lookup --db DB --key KEY --profiles CSV [--lookups N] [--seed S]
 *        [--passes P]
 * The CSV (gen_profiles' output, the imported file) says which profile each
 * email must find.  A tenth of the lookups are unknown emails that must find
 * nothing, and some known ones come in mixed case with blanks around them.
 * Prints one line a pass and the median; exits 1 on any wrong answer. */
#include "privacy.h"
#include "store.h"

#include "tool_args.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PASSES 50
#define MAX_FIELDS 32
#define UNKNOWN_PERCENT 10
#define VARIANT_PERCENT 10 /* of the known lookups */

struct options {
    const char *db_path, *key_path, *profiles_path;
    uint64_t lookups, seed, passes;
};

/* ---- deterministic randomness (splitmix64, as in gen_events) ---------- */

struct rng {
    uint64_t state;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

/* ---- the imported profiles: id and email of each CSV row --------------- */

struct profiles {
    char **ids, **emails;
    size_t count, cap;
};

/* Cuts LINE at its commas (no quoting: gen_profiles writes none); returns
 * the number of fields, or -1 when the line holds a quote. */
static int split_fields(char *line, char **fields)
{
    int count = 0;
    line[strcspn(line, "\r\n")] = '\0';
    if (strchr(line, '"')) return -1;
    for (char *f = line; count < MAX_FIELDS; f++) {
        fields[count++] = f;
        f = strchr(f, ',');
        if (!f) break;
        *f = '\0';
    }
    return count;
}

static int find_column(char **fields, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (!strcmp(fields[i], name)) return i;
    return -1;
}

static int add_profile(struct profiles *pl, const char *id, const char *email)
{
    if (pl->count == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 1024;
        char **ids = realloc(pl->ids, cap * sizeof *ids);
        if (ids) pl->ids = ids;
        char **emails = realloc(pl->emails, cap * sizeof *emails);
        if (emails) pl->emails = emails;
        if (!ids || !emails) return -1;
        pl->cap = cap;
    }
    pl->ids[pl->count] = strdup(id);
    pl->emails[pl->count] = strdup(email);
    if (!pl->ids[pl->count] || !pl->emails[pl->count])
        return free(pl->ids[pl->count]), free(pl->emails[pl->count]), -1;
    pl->count++;
    return 0;
}

static void free_profiles(struct profiles *pl)
{
    for (size_t i = 0; i < pl->count; i++)
        free(pl->ids[i]), free(pl->emails[i]);
    free(pl->ids), free(pl->emails);
    memset(pl, 0, sizeof *pl);
}

/* Reads the rows of the CSV at PATH.  0, or -1 (reported). */
static int read_profiles(const char *path, struct profiles *pl)
{
    FILE *in = fopen(path, "r");
    char *line = NULL, *fields[MAX_FIELDS];
    size_t size = 0;
    long number = 0;
    int id_col = -1, email_col = -1, bad = 0, rc = -1;
    if (!in) return fprintf(stderr, "bench_lookup: %s: %s\n", path, strerror(errno)), -1;
    while (!bad && getline(&line, &size, in) > 0) {
        number++;
        if (line[strspn(line, "\r\n")] == '\0') continue; /* a blank line */
        int count = split_fields(line, fields);
        if (id_col < 0) { /* the header */
            id_col = find_column(fields, count, "id");
            email_col = find_column(fields, count, "email");
            bad = id_col < 0 || email_col < 0;
        } else {
            bad = count <= id_col || count <= email_col ||
                  add_profile(pl, fields[id_col], fields[email_col]);
        }
    }
    if (!bad && !ferror(in) && pl->count > 0) rc = 0;
    if (rc)
        fprintf(stderr,
                "bench_lookup: %s:%ld: expected gen_profiles CSV (id and email"
                " columns, no quotes, at least one row)\n",
                path, number);
    free(line);
    fclose(in);
    return rc;
}

/* ---- the lookups ------------------------------------------------------ */

struct query {
    char *value;          /* the email as looked up */
    const char *expected; /* the profile it must find; NULL: none */
};

struct mix {
    size_t known, variants, unknown;
};

/* EMAIL with random letters upper-cased and blanks around it:
 * " User123@Example.COM\t".  malloc'd. */
static char *email_variant(struct rng *r, const char *email)
{
    size_t len = strlen(email);
    char *out = malloc(len + 3);
    if (!out) return NULL;
    out[0] = rng_below(r, 2) ? ' ' : '\t';
    for (size_t i = 0; i < len; i++) {
        char c = email[i];
        out[i + 1] = c >= 'a' && c <= 'z' && rng_below(r, 2) ? (char)(c - 'a' + 'A') : c;
    }
    out[len + 1] = ' ';
    out[len + 2] = '\0';
    return out;
}

/* An email no imported profile has: a known name at another domain, or a
 * name gen_profiles never writes.  malloc'd. */
static char *unknown_email(struct rng *r, size_t i)
{
    char text[64];
    if (i % 2)
        snprintf(text, sizeof text, "user%06" PRIu64 "@example.org",
                 rng_below(r, 1000000));
    else
        snprintf(text, sizeof text, "nobody%07zu@example.com", i);
    return strdup(text);
}

static int make_query(struct rng *r, const struct profiles *pl, size_t i, struct query *q,
                      struct mix *m)
{
    if (rng_below(r, 100) < UNKNOWN_PERCENT) {
        q->value = unknown_email(r, i), q->expected = NULL, m->unknown++;
        return q->value ? 0 : -1;
    }
    size_t k = (size_t)rng_below(r, pl->count);
    int variant = rng_below(r, 100) < VARIANT_PERCENT;
    q->value = variant ? email_variant(r, pl->emails[k]) : strdup(pl->emails[k]);
    q->expected = pl->ids[k];
    m->known++, m->variants += (size_t)variant;
    return q->value ? 0 : -1;
}

static void free_queries(struct query *qs, size_t count)
{
    for (size_t i = 0; qs && i < count; i++)
        free(qs[i].value);
    free(qs);
}

/* COUNT lookups drawn from the profiles with SEED.  NULL when out of memory. */
static struct query *make_queries(const struct profiles *pl, uint64_t seed, size_t count,
                                  struct mix *m)
{
    struct rng r = {seed};
    struct query *qs = calloc(count ? count : 1, sizeof *qs);
    for (size_t i = 0; qs && i < count; i++)
        if (make_query(&r, pl, i, &qs[i], m)) return free_queries(qs, count), NULL;
    return qs;
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) +
           (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Looks every query up once; the seconds it took, or -1 on a wrong answer
 * (reported). */
static double run_pass(privacy *p, store *s, const struct query *qs, size_t count)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (size_t i = 0; i < count; i++) {
        char *found = privacy_find(p, s, "email", qs[i].value);
        const char *want = qs[i].expected;
        if (found ? (!want || strcmp(found, want) != 0) : want != NULL) {
            fprintf(stderr, "bench_lookup: \"%s\" found %s, expected %s\n", qs[i].value,
                    found ? found : "nothing", want ? want : "nothing");
            free(found);
            return -1;
        }
        free(found);
    }
    return seconds_since(&start);
}

/* ---- command line and report ------------------------------------------ */

static void usage(const char *why)
{
    if (why) fprintf(stderr, "bench_lookup: %s\n", why);
    fprintf(stderr, "usage: bench_lookup --db DB --key KEY --profiles CSV"
                    " [--lookups N] [--seed S] [--passes P]\n");
    exit(2);
}

static uint64_t parse_count(const char *text, const char *flag, uint64_t min,
                            uint64_t max)
{
    return tool_parse_count("bench_lookup", text, flag, min, max);
}

static struct options parse_options(int argc, char **argv)
{
    struct options o = {NULL, NULL, NULL, 200000, 20261102, 5};
    for (int i = 1; i < argc; i += 2) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(flag, "-h") || !strcmp(flag, "--help")) usage(NULL);
        if (!value) usage("every option needs a value");
        if (!strcmp(flag, "--db"))
            o.db_path = value;
        else if (!strcmp(flag, "--key"))
            o.key_path = value;
        else if (!strcmp(flag, "--profiles"))
            o.profiles_path = value;
        else if (!strcmp(flag, "--lookups"))
            o.lookups = parse_count(value, flag, 1, 100000000);
        else if (!strcmp(flag, "--seed"))
            o.seed = parse_count(value, flag, 0, UINT64_MAX);
        else if (!strcmp(flag, "--passes"))
            o.passes = parse_count(value, flag, 1, MAX_PASSES);
        else
            usage("unknown argument");
    }
    if (!o.db_path || !o.key_path || !o.profiles_path)
        usage("--db, --key and --profiles are required");
    return o;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts RATES and prints the median, min and max. */
static void report(double *rates, size_t passes, size_t lookups, const struct mix *m)
{
    qsort(rates, passes, sizeof *rates, by_value);
    double median =
        passes % 2 ? rates[passes / 2] : (rates[passes / 2 - 1] + rates[passes / 2]) / 2;
    printf("bench: email lookups: median %.0f lookups/s over %zu passes (%zu lookups:"
           " %zu known, %zu of them mixed-case/padded, %zu unknown)\n",
           median, passes, lookups, m->known, m->variants, m->unknown);
    printf("bench: lookups/s min %.0f max %.0f\n", rates[0], rates[passes - 1]);
}

/* Runs the passes; 0, or -1 after a wrong answer. */
static int run_passes(privacy *p, store *s, const struct query *qs,
                      const struct options *o, const struct mix *m)
{
    double rates[MAX_PASSES] = {0};
    for (size_t i = 0; i < o->passes; i++) {
        double secs = run_pass(p, s, qs, o->lookups);
        if (secs < 0) return -1;
        rates[i] = (double)o->lookups / (secs > 0 ? secs : 1e-9);
        printf("bench: lookup pass %zu: %.2f s, %.0f lookups/s\n", i + 1, secs, rates[i]);
        fflush(stdout);
    }
    report(rates, o->passes, o->lookups, m);
    return 0;
}

/* Opens the database and its keys; 0, or -1 (reported). */
static int open_database(const struct options *o, store **s, privacy **p)
{
    char err[800];
    privacy_options po = {.key_file = o->key_path};
    if (access(o->key_path, R_OK))
        return fprintf(stderr, "bench_lookup: %s: %s\n", o->key_path, strerror(errno)),
               -1;
    if (store_open(o->db_path, s, err, sizeof err) ||
        privacy_open(*s, &po, p, err, sizeof err))
        return fprintf(stderr, "bench_lookup: %s\n", err), -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = parse_options(argc, argv);
    struct profiles pl = {0};
    struct mix m = {0, 0, 0};
    struct query *qs = NULL;
    store *s = NULL;
    privacy *p = NULL;
    int rc = 1;
    if (sodium_init() < 0) return fprintf(stderr, "bench_lookup: libsodium failed\n"), 1;
    if (read_profiles(o.profiles_path, &pl)) goto done;
    qs = make_queries(&pl, o.seed, o.lookups, &m);
    if (!qs) {
        fprintf(stderr, "bench_lookup: out of memory for %" PRIu64 " lookups\n",
                o.lookups);
        goto done;
    }
    if (open_database(&o, &s, &p)) goto done;
    rc = run_passes(p, s, qs, &o, &m) ? 1 : 0;
done:
    privacy_free(p);
    store_close(s);
    free_queries(qs, o.lookups);
    free_profiles(&pl);
    return rc;
}
