/* Unit tests for runtime/import.h: import_stream over temporary files
 * holding CSV and NDJSON profiles, good and bad; the callback records the
 * rows it is handed and stderr is captured to check the reported lines. */
#include "import.h"

#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEEN 16

typedef struct seen_row {
    long line;
    char id[64];
    char traits[256]; /* the traits object as compact JSON */
} seen_row;

typedef struct collector {
    seen_row seen[MAX_SEEN];
    long count, last_line;
    long stop_at; /* return stop_rc when the stop_at-th row arrives (0: never) */
    int stop_rc;
} collector;

static char log_text[16384]; /* what the last run wrote to stderr */

static int on_row(void *ctx, const import_row *r)
{
    collector *c = ctx;
    if (c->count < MAX_SEEN) {
        seen_row *s = &c->seen[c->count];
        char *json = cJSON_PrintUnformatted(r->traits);
        s->line = r->line;
        snprintf(s->id, sizeof s->id, "%s", r->profile_id);
        snprintf(s->traits, sizeof s->traits, "%s", json ? json : "(null)");
        free(json);
    }
    c->count++;
    c->last_line = r->line;
    return c->stop_at && c->count == c->stop_at ? c->stop_rc : 0;
}

/* Runs import_stream on `in` with stderr captured into log_text. */
static int run_file(FILE *in, const char *source, collector *c, import_stats *st)
{
    FILE *err = tmpfile();
    if (!err) return -999;
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(err), 2);
    *st = (import_stats){0, 0, 0};
    int rc = import_stream(in, source, on_row, c, st);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(err);
    size_t n = fread(log_text, 1, sizeof log_text - 1, err);
    log_text[n] = 0;
    fclose(err);
    return rc;
}

static int run_len(const char *source, const char *text, size_t len, collector *c,
                   import_stats *st)
{
    FILE *in = tmpfile();
    if (!in) return -999;
    fwrite(text, 1, len, in);
    rewind(in);
    int rc = run_file(in, source, c, st);
    fclose(in);
    return rc;
}

static int run(const char *source, const char *text, collector *c, import_stats *st)
{
    return run_len(source, text, strlen(text), c, st);
}

static int counts_are(const import_stats *st, long accepted, long rejected)
{
    if (st->accepted != accepted || st->rejected != rejected ||
        st->rows != accepted + rejected)
        printf("# rows %ld accepted %ld rejected %ld, want %ld and %ld\n", st->rows,
               st->accepted, st->rejected, accepted, rejected);
    return st->rows == accepted + rejected && st->accepted == accepted &&
           st->rejected == rejected;
}

static int logged(const char *text)
{
    if (strstr(log_text, text)) return 1;
    printf("# log lacks \"%s\"; it holds:\n# %s\n", text, log_text);
    return 0;
}

static void test_csv_header_only(void)
{
    collector c = {0};
    import_stats st;
    CHECK(run("t.csv", "id,name,plan\n", &c, &st) == 0, "csv: header only returns 0");
    CHECK(counts_are(&st, 0, 0) && c.count == 0, "csv: header only has no rows");
    CHECK(run("t.csv", "id,name", &c, &st) == 0 && counts_are(&st, 0, 0),
          "csv: header without newline, no rows");
    CHECK(run("t.csv", "", &c, &st) == 0 && counts_are(&st, 0, 0) && c.count == 0,
          "csv: an empty file is no rows, not a failure");
}

static void test_csv_traits(void)
{
    collector c = {0};
    import_stats st;
    int rc = run("t.csv", "userId, name ,plan\nu1,Ada,pro\nu2,Bob,free", &c, &st);
    CHECK(rc == 0 && counts_are(&st, 2, 0), "csv: two rows accepted");
    CHECK_STR(c.seen[0].id, "u1", "csv: userId column is the id");
    CHECK_STR(c.seen[0].traits, "{\"name\":\"Ada\",\"plan\":\"pro\"}",
              "csv: other columns are string traits, names trimmed");
    CHECK(c.seen[0].line == 2 && c.seen[1].line == 3, "csv: rows at lines 2 and 3");
    CHECK_STR(c.seen[1].traits, "{\"name\":\"Bob\",\"plan\":\"free\"}",
              "csv: the last row without newline is read");

    c = (collector){0};
    run("t.csv", "id,name,plan\nu1,,pro\nu2,Bob,\nu3,,\n", &c, &st);
    CHECK(counts_are(&st, 3, 0), "csv: rows with empty cells accepted");
    CHECK_STR(c.seen[0].traits, "{\"plan\":\"pro\"}", "csv: empty cell left out");
    CHECK_STR(c.seen[1].traits, "{\"name\":\"Bob\"}", "csv: empty last cell left out");
    CHECK_STR(c.seen[2].traits, "{}", "csv: all cells empty gives an empty object");

    c = (collector){0};
    run("t.csv", "user_id,userId,id,name\na,b,c,Ada\n", &c, &st);
    CHECK_STR(c.seen[0].id, "c", "csv: \"id\" is preferred to userId and user_id");
    CHECK_STR(c.seen[0].traits, "{\"user_id\":\"a\",\"userId\":\"b\",\"name\":\"Ada\"}",
              "csv: the other id-like columns stay traits");
}

static void test_csv_quoting(void)
{
    const char *text = "id,note,city\n"               /* 1 */
                       "u1,\"a, b\",Paris\n"          /* 2 */
                       "u2,\"say \"\"hi\"\"\",Rome\n" /* 3 */
                       "u3,\"two\n"                   /* 4 */
                       "lines\",Oslo\n"               /* 5 */
                       "\n"                           /* 6 */
                       "u4,plain,Lima\n";             /* 7 */
    collector c = {0};
    import_stats st;
    CHECK(run("t.csv", text, &c, &st) == 0 && counts_are(&st, 4, 0),
          "csv quoting: four rows accepted");
    CHECK_STR(c.seen[0].traits, "{\"note\":\"a, b\",\"city\":\"Paris\"}",
              "csv quoting: a comma inside quotes");
    CHECK_STR(c.seen[1].traits, "{\"note\":\"say \\\"hi\\\"\",\"city\":\"Rome\"}",
              "csv quoting: doubled quotes are one quote");
    CHECK_STR(c.seen[2].traits, "{\"note\":\"two\\nlines\",\"city\":\"Oslo\"}",
              "csv quoting: a newline inside quotes");
    CHECK(c.seen[0].line == 2 && c.seen[1].line == 3, "csv quoting: lines 2 and 3");
    CHECK(c.seen[2].line == 4, "csv quoting: a two-line row reports its first line");
    CHECK(c.seen[3].line == 7, "csv quoting: later rows and blank lines keep count");
}

static void test_csv_field_count(void)
{
    collector c = {0};
    import_stats st;
    int rc = run("t.csv", "id,name\nu1,Ada,extra\nu2,Bob\nu3\nu4,Dee\n", &c, &st);
    CHECK(rc == 0 && counts_are(&st, 2, 2), "csv count: 2 accepted, 2 rejected");
    CHECK(logged("t.csv:2: 3 fields where the header has 2"),
          "csv count: too many fields reported at line 2");
    CHECK(logged("t.csv:4: 1 field where the header has 2"),
          "csv count: too few fields reported at line 4");
    CHECK(c.count == 2 && c.seen[0].line == 3 && c.seen[1].line == 5,
          "csv count: the rows after a bad one are accepted");
    CHECK_STR(c.seen[0].id, "u2", "csv count: the next row's id");

    c = (collector){0};
    run("t.csv", "id,name\n,Ada\n\"\",Bob\nu3,Cy\n", &c, &st);
    CHECK(counts_are(&st, 1, 2) && logged("t.csv:2: empty id (column \"id\")") &&
              logged("t.csv:3: empty id"),
          "csv: empty ids rejected with their lines");
}

static void test_csv_header_errors(void)
{
    collector c = {0};
    import_stats st;
    int rc = run("t.csv", "email,name\na@example.com,Ada\nb@example.com,Bob\n", &c, &st);
    CHECK(rc == -1, "csv header: no id column fails the import");
    CHECK(counts_are(&st, 0, 0) && c.count == 0, "csv header: ... and rejects nothing");
    CHECK(logged("t.csv:1:") && logged("\"id\", \"userId\" or \"user_id\""),
          "csv header: the error names line 1 and the accepted names");
    CHECK(strchr(log_text, '\n') == strrchr(log_text, '\n'),
          "csv header: one error line, not one per row");

    rc = run("t.csv", "id,name, name\nu1,a,b\n", &c, &st);
    CHECK(rc == -1 && counts_are(&st, 0, 0), "csv header: duplicate name fails");
    CHECK(logged("t.csv:1: bad header: column \"name\" appears twice"),
          "csv header: duplicate after trimming reported on line 1");
    rc = run("t.csv", "id,,plan\nu1,a,b\n", &c, &st);
    CHECK(rc == -1 && logged("t.csv:1: bad header: column 2 has no name"),
          "csv header: empty name fails on line 1");
}

static void test_csv_bom_and_crlf(void)
{
    collector c = {0};
    import_stats st;
    run("t.csv", "\xEF\xBB\xBFid,name\nu1,Ada\n", &c, &st);
    CHECK(counts_are(&st, 1, 0), "csv: a BOM before the header is skipped");
    CHECK_STR(c.seen[0].id, "u1", "csv: ... and \"id\" is found");

    c = (collector){0};
    int rc = run("t.csv", "id,name\r\nu1,Ada\r\n\r\nu2,\"x\r\ny\"\r\nu3,Cy\r\n", &c, &st);
    CHECK(rc == 0 && counts_are(&st, 3, 0), "crlf: three rows");
    CHECK_STR(c.seen[0].traits, "{\"name\":\"Ada\"}", "crlf: no CR in values");
    CHECK_STR(c.seen[1].traits, "{\"name\":\"x\\r\\ny\"}", "crlf: quoted CRLF kept");
    CHECK(c.seen[0].line == 2 && c.seen[1].line == 4 && c.seen[2].line == 6,
          "crlf: line numbers");

    c = (collector){0};
    run("t.csv", "id,name\ru1,Ada\ru2,Bob\r", &c, &st);
    CHECK(counts_are(&st, 2, 0) && c.seen[1].line == 3,
          "cr only (old Mac): rows and line numbers");
}

static void test_csv_bad_text(void)
{
    const char *text = "id,name\n"
                       "u1,Ad\xff\n"                       /* 2: not UTF-8 */
                       "u2,\xC0\xAF\n"                     /* 3: overlong */
                       "u3,\xED\xA0\x80\n"                 /* 4: surrogate */
                       "u\xe9,Bob\n"                       /* 5: Latin-1 id */
                       "u6,Zo\xC3\xAB \xF0\x9F\x8E\x89\n"; /* 6: fine */
    collector c = {0};
    import_stats st;
    run("t.csv", text, &c, &st);
    CHECK(counts_are(&st, 1, 4), "utf-8: four rejected, one accepted");
    CHECK(logged("t.csv:2: invalid UTF-8 in column \"name\""),
          "utf-8: reason and column at line 2");
    CHECK(logged("t.csv:3: invalid UTF-8") && logged("t.csv:4: invalid UTF-8"),
          "utf-8: overlong and surrogate rejected");
    CHECK(logged("t.csv:5: invalid UTF-8 in column \"id\""), "utf-8: a bad id too");
    CHECK_STR(c.seen[0].traits, "{\"name\":\"Zo\xC3\xAB \xF0\x9F\x8E\x89\"}",
              "utf-8: multibyte text accepted as is");

    c = (collector){0};
    run_len("t.csv", "id,name\nu1,a\0b\nu2,c\n", 20, &c, &st);
    CHECK(counts_are(&st, 1, 1) && logged("t.csv:2: a NUL byte in column \"name\""),
          "csv: a NUL byte is rejected");
}

static void test_csv_stray_quotes(void)
{
    collector c = {0};
    import_stats st;
    int rc = run("t.csv", "id,size\nu1,5\" screen\nu2,\"a\"b\nu3,ok\n", &c, &st);
    CHECK(rc == 0 && counts_are(&st, 1, 2), "quotes: two bad rows rejected");
    CHECK(logged("t.csv:2: a stray quote") && logged("t.csv:3: a stray quote"),
          "quotes: reported at their lines");
    CHECK(c.count == 1 && c.seen[0].line == 4, "quotes: the next row is accepted");

    c = (collector){0};
    run("t.csv", "id,note\nu1,ok\nu2,\"never closed\nu3,x\n", &c, &st);
    CHECK(counts_are(&st, 1, 1) && logged("t.csv:3: a quoted field is not closed"),
          "quotes: an open quote at the end of the input is reported at its line");
}

static void test_ndjson_shapes(void)
{
    const char *text = "{\"userId\":\"u1\",\"traits\":{\"plan\":\"pro\",\"age\":30},"
                       "\"type\":\"identify\"}\n"
                       "{\"id\":\"u2\",\"plan\":\"free\",\"vip\":true}\n"
                       "\n"
                       "{\"id\":\"u3\",\"traits\":{}}\r\n";
    collector c = {0};
    import_stats st;
    CHECK(run("t.ndjson", text, &c, &st) == 0 && counts_are(&st, 3, 0),
          "ndjson: three rows");
    CHECK_STR(c.seen[0].id, "u1", "ndjson: userId");
    CHECK_STR(c.seen[0].traits, "{\"plan\":\"pro\",\"age\":30}",
              "ndjson: the traits object is the traits");
    CHECK_STR(c.seen[1].id, "u2", "ndjson: id stands for userId");
    CHECK_STR(c.seen[1].traits, "{\"plan\":\"free\",\"vip\":true}",
              "ndjson: a flat object's other keys are the traits");
    CHECK(c.seen[2].line == 4, "ndjson: blank lines count, CRLF accepted");

    c = (collector){0};
    run("people.jsonl", "{\"userId\":\"u1\",\"a\":\"b\"}", &c, &st);
    CHECK(counts_are(&st, 1, 0), "ndjson: .jsonl, last line without newline");
    c = (collector){0};
    run("-", "\n  {\"userId\":\"u1\"}\n", &c, &st);
    CHECK(counts_are(&st, 1, 0) && c.seen[0].line == 2, "sniff: '{' means NDJSON");
    c = (collector){0};
    run("-", "\xEF\xBB\xBFid,name\nu1,Ada\n", &c, &st);
    CHECK(counts_are(&st, 1, 0) && c.seen[0].line == 2, "sniff: anything else is CSV");
}

static void test_ndjson_bad_lines(void)
{
    const char *text = "{\"userId\":\"u1\",\"traits\":{}}\n"    /* 1 */
                       "not json\n"                             /* 2 */
                       "[1,2]\n"                                /* 3 */
                       "{\"traits\":{\"a\":1}}\n"               /* 4 */
                       "{\"userId\":\"\",\"a\":1}\n"            /* 5 */
                       "{\"userId\":42}\n"                      /* 6 */
                       "{\"userId\":\"u7\",\"traits\":\"x\"}\n" /* 7 */
                       "   \n"                                  /* 8 */
                       "{\"id\":\"u9\"} trailing\n"             /* 9 */
                       "{\"id\":\"u\xff\"}\n"                   /* 10 */
                       "{\"id\":\"u11\"}\n";                    /* 11 */
    collector c = {0};
    import_stats st;
    CHECK(run("t.json", text, &c, &st) == 0, "ndjson bad: returns 0");
    CHECK(counts_are(&st, 2, 8), "ndjson bad: 2 accepted, 8 rejected");
    CHECK(logged("t.json:2: not valid JSON"), "ndjson bad: line 2 not JSON");
    CHECK(logged("t.json:3: not a JSON object"), "ndjson bad: line 3 not an object");
    CHECK(logged("t.json:4: missing \"userId\""), "ndjson bad: line 4 no id");
    CHECK(logged("t.json:5: empty \"userId\""), "ndjson bad: line 5 empty id");
    CHECK(logged("t.json:6: \"userId\" is not a string"), "ndjson bad: line 6 number id");
    CHECK(logged("t.json:7: \"traits\" is not an object"), "ndjson bad: line 7 traits");
    CHECK(logged("t.json:9: text after the JSON value"), "ndjson bad: line 9 trailing");
    CHECK(logged("t.json:10: invalid UTF-8"), "ndjson bad: line 10 bad UTF-8");
    CHECK(c.count == 2 && c.seen[1].line == 11, "ndjson bad: line 11 accepted");
}

static void test_stop(void)
{
    collector c = {.stop_at = 2, .stop_rc = 7};
    import_stats st;
    int rc = run("t.csv", "id\nu1\nu2\nu3\nu4\n", &c, &st);
    CHECK(rc == 7, "stop: the callback's value is returned");
    CHECK(c.count == 2 && counts_are(&st, 2, 0), "stop: no row after the stop");
    c = (collector){.stop_at = 1, .stop_rc = -1};
    rc = run("t.ndjson", "{\"id\":\"a\"}\n{\"id\":\"b\"}\n", &c, &st);
    CHECK(rc == -1 && c.count == 1, "stop: NDJSON too");
}

/* A CSV row "uN,xxx...\n" of exactly `len` bytes before its newline. */
static char *padded_row(const char *id, size_t len)
{
    char *row = malloc(len + 2);
    if (!row) return NULL;
    size_t head = (size_t)snprintf(row, len + 2, "%s,", id);
    memset(row + head, 'x', len - head);
    strcpy(row + len, "\n");
    return row;
}

static void test_limit_csv(void)
{
    char *fits = padded_row("u1", IMPORT_ROW_MAX_BYTES);
    char *over = padded_row("u2", IMPORT_ROW_MAX_BYTES + 1);
    char *huge = padded_row("u3", 5 * IMPORT_ROW_MAX_BYTES);
    size_t total = 12 * IMPORT_ROW_MAX_BYTES;
    char *text = malloc(total);
    CHECK(fits && over && huge && text, "limit: test input built");
    if (fits && over && huge && text) {
        snprintf(text, total, "id,pad\n%s%s%su4,ok\nu5,\"%.40000s\n%.40000s\"\nu6,ok\n",
                 fits, over, huge, huge + 3, huge + 3);
        collector c = {0};
        import_stats st;
        CHECK(run("t.csv", text, &c, &st) == 0 && counts_are(&st, 3, 3),
              "limit: 3 accepted, 3 rejected");
        CHECK(c.count == 3 && c.seen[0].line == 2 && strlen(c.seen[0].id) == 2,
              "limit: a row of exactly 64 KB is accepted");
        CHECK(logged("t.csv:3: row over 64 KB") && logged("t.csv:4: row over 64 KB"),
              "limit: longer rows rejected at their lines");
        CHECK(c.seen[1].line == 5, "limit: the row after a huge one is accepted");
        CHECK(logged("t.csv:6: row over 64 KB by line 7"),
              "limit: a quoted row over two lines counts both");
        CHECK(c.seen[2].line == 8, "limit: the row after it is accepted");
    }
    free(fits), free(over), free(huge), free(text);
}

static void test_limit_ndjson(void)
{
    size_t pad = 2 * IMPORT_ROW_MAX_BYTES;
    char *text = malloc(pad + 128);
    CHECK(text, "limit ndjson: test input built");
    if (!text) return;
    int head = sprintf(text, "{\"id\":\"u1\",\"pad\":\"");
    memset(text + head, 'x', pad);
    strcpy(text + head + pad, "\"}\n{\"id\":\"u2\"}\n");
    collector c = {0};
    import_stats st;
    run("t.ndjson", text, &c, &st);
    CHECK(counts_are(&st, 1, 1) && logged("t.ndjson:1: line over 64 KB"),
          "limit ndjson: the long line is rejected");
    CHECK(c.count == 1 && c.seen[0].line == 2, "limit ndjson: the next line is read");
    free(text);
}

static void test_many_rows(void)
{
    enum { ROWS = 200000 };
    FILE *in = tmpfile();
    CHECK(in, "many: temp file");
    if (!in) return;
    fputs("id,email,plan,city,signup\n", in);
    for (int i = 0; i < ROWS; i++)
        fprintf(in, "user-%d,user%d@example.com,%s,\"Paris, FR\",2026-01-%02d\n", i, i,
                i % 3 ? "free" : "pro", i % 28 + 1);
    rewind(in);
    collector c = {0};
    import_stats st;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = run_file(in, "many.csv", &c, &st);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fclose(in);
    printf("# %d rows parsed in %.3f s\n", ROWS,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    CHECK(rc == 0 && counts_are(&st, ROWS, 0), "many: 200,000 rows all accepted");
    CHECK(c.count == ROWS && c.last_line == ROWS + 1,
          "many: the last row is at line 200001");
}

int main(void)
{
    test_csv_header_only();
    test_csv_traits();
    test_csv_quoting();
    test_csv_field_count();
    test_csv_header_errors();
    test_csv_bom_and_crlf();
    test_csv_bad_text();
    test_csv_stray_quotes();
    test_ndjson_shapes();
    test_ndjson_bad_lines();
    test_stop();
    test_limit_csv();
    test_limit_ndjson();
    test_many_rows();
    UNIT_DONE();
}
