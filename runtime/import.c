/* Profile import: CSV (tokenized by libcsv, fed one physical line at a time
 * so each row knows the line it starts on) and NDJSON (cJSON, one object a
 * line).  Lines are read through a fixed buffer, so one huge line costs a
 * rejected row, not memory.  Nothing here touches the store. */
#include "import.h"

#include "log.h"

#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- lines ------------------------------------------------------------ */

#define LINE_MAX_BYTES (IMPORT_ROW_MAX_BYTES + 2) /* a whole row and its CR LF */
#define READ_BUFFER_BYTES (2 * LINE_MAX_BYTES)

typedef struct line_reader {
    FILE *in;
    const char *source;
    char *buf;         /* READ_BUFFER_BYTES */
    size_t start, end; /* the bytes not returned yet */
    size_t last_start; /* where the last line returned began (for unread) */
    long line;         /* number of the last line returned */
    char eol;          /* '\n', or '\r' for old Mac files without any LF */
    int at_eof, skip_rest;
} line_reader;

typedef struct text_line {
    char *text;
    size_t len; /* with the line ending, if there is one */
    long number;
    int too_long; /* text holds only the first LINE_MAX_BYTES; the rest is skipped */
} text_line;

/* Moves the unread bytes to the front and reads more after them. */
static int reader_fill(line_reader *r)
{
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
    size_t want = READ_BUFFER_BYTES - r->end;
    size_t got = fread(r->buf + r->end, 1, want, r->in);
    r->end += got;
    if (got < want) {
        r->at_eof = 1;
        if (ferror(r->in))
            return log_error("%s: read error: %s", r->source, strerror(errno)), -1;
    }
    return 0;
}

/* Fills the buffer for the first time, steps over a UTF-8 BOM and picks
 * the line ending. */
static int reader_open(line_reader *r, FILE *in, const char *source)
{
    *r = (line_reader){.in = in, .source = source};
    if (!(r->buf = malloc(READ_BUFFER_BYTES)))
        return log_error("%s: out of memory", source), -1;
    if (reader_fill(r)) return -1;
    if (r->end >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0) r->start = 3;
    r->eol = !memchr(r->buf, '\n', r->end) && memchr(r->buf, '\r', r->end) ? '\r' : '\n';
    return 0;
}

/* Discards the rest of an overlong line, through its line ending. */
static int reader_skip_rest(line_reader *r)
{
    r->skip_rest = 0;
    for (;;) {
        char *nl = memchr(r->buf + r->start, r->eol, r->end - r->start);
        if (nl) {
            r->start = (size_t)(nl - r->buf) + 1;
            return 0;
        }
        r->start = r->end;
        if (r->at_eof) return 0;
        if (reader_fill(r)) return -1;
    }
}

/* The next line: returns 1, 0 at the end of the input, -1 on a read error.
 * The text stays valid until the next call. */
static int reader_next(line_reader *r, text_line *out)
{
    if (r->skip_rest && reader_skip_rest(r)) return -1;
    for (;;) {
        char *p = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = memchr(p, r->eol, avail < LINE_MAX_BYTES ? avail : LINE_MAX_BYTES);
        int too_long = !nl && avail >= LINE_MAX_BYTES;
        if (nl || too_long || (r->at_eof && avail)) {
            size_t len = nl ? (size_t)(nl - p) + 1 : too_long ? LINE_MAX_BYTES : avail;
            *out = (text_line){p, len, ++r->line, too_long};
            r->last_start = r->start;
            r->start += len;
            r->skip_rest = too_long;
            return 1;
        }
        if (r->at_eof) return 0;
        if (reader_fill(r)) return -1;
    }
}

/* Gives back the line just returned, so that the next call returns it again. */
static void reader_unread(line_reader *r)
{
    r->start = r->last_start;
    r->skip_rest = 0;
    r->line--;
}

/* The length of the line without its "\n", "\r\n" or "\r". */
static size_t content_length(const char *text, size_t len)
{
    if (len && text[len - 1] == '\n') len--;
    if (len && text[len - 1] == '\r') len--;
    return len;
}

/* The number of spaces, tabs, CRs and LFs that text starts with. */
static size_t blank_prefix(const char *text, size_t len)
{
    size_t i = 0;
    while (i < len &&
           (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    return i;
}

/* ---- text checks ------------------------------------------------------ */

/* The length of the UTF-8 sequence at s (strict: no overlongs, surrogates
 * or code points past U+10FFFF), or 0 when it is not valid. */
static size_t utf8_sequence(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0], low = 0x80, high = 0xBF;
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (c > 0xF4 || n == 0 || n > avail) return 0;
    if (c == 0xE0) low = 0xA0;
    if (c == 0xED) high = 0x9F;
    if (c == 0xF0) low = 0x90;
    if (c == 0xF4) high = 0x8F;
    if (s[1] < low || s[1] > high) return 0;
    for (size_t k = 2; k < n; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    return n;
}

/* What is wrong with text as a trait or id, or NULL when it is fine. */
static const char *text_problem(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        if (s[i] >= 0x80) {
            size_t n = utf8_sequence(s + i, len - i);
            if (!n) return "invalid UTF-8";
            i += n;
        } else if (s[i] == 0) {
            return "a NUL byte";
        } else {
            i++;
        }
    }
    return NULL;
}

/* ---- rows ------------------------------------------------------------- */

typedef struct importer {
    const char *source;
    int (*row)(void *ctx, const import_row *r);
    void *ctx;
    import_stats *stats;
    int rc; /* non-zero: stop (row()'s value, or -1) */
} importer;

/* Counts and logs a bad row; returns 0 (reading goes on). */
static int reject(importer *im, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int reject(importer *im, long line, const char *fmt, ...)
{
    char why[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    im->stats->rows++;
    im->stats->rejected++;
    log_warn("%s:%ld: %s", im->source, line, why);
    return 0;
}

/* Counts a good row and hands it over; returns row()'s value. */
static int deliver(importer *im, long line, const char *id, cJSON *traits)
{
    import_row row = {line, id, traits};
    im->stats->rows++;
    im->stats->accepted++;
    return im->rc = im->row(im->ctx, &row);
}

static int out_of_memory(importer *im)
{
    log_error("%s: out of memory", im->source);
    return im->rc = -1;
}

/* ---- CSV -------------------------------------------------------------- */

#define CSV_OPTIONS (CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_REPALL_NL)

static const char *const csv_id_names[] = {"id", "userId", "user_id", NULL};

typedef struct csv_reader {
    importer *im;
    struct csv_parser parser;
    char **columns; /* the header's names, trimmed */
    size_t column_count, column_cap;
    size_t id_column;
    int have_header;
    /* The row being parsed.  With CSV_REPALL_NL libcsv ends a row (an empty
     * one for a blank line or the LF of a CR LF) at every newline outside
     * quotes, so after a row end the next row starts on the next line fed. */
    int at_row_start;
    long line;
    size_t bytes, fields;
    cJSON *traits;
    char *id;
    size_t id_len, id_cap;
    char why[200]; /* the first problem found in the row, or "" */
} csv_reader;

static void csv_row_clear(csv_reader *c)
{
    cJSON_Delete(c->traits);
    c->traits = NULL;
    c->fields = c->id_len = 0;
    c->why[0] = 0;
}

/* (Re)starts the parser with no row begun; after a strict error libcsv's
 * state cannot be reused. */
static void csv_start(csv_reader *c)
{
    csv_free(&c->parser);
    csv_init(&c->parser, CSV_OPTIONS);
    csv_set_blk_size(&c->parser, 4096);
    csv_row_clear(c);
    c->at_row_start = 1;
}

/* Logs why the header cannot be used and stops the import; returns -1. */
static int csv_header_fail(csv_reader *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int csv_header_fail(csv_reader *c, const char *fmt, ...)
{
    char why[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    log_error("%s:%ld: bad header: %s", c->im->source, c->line, why);
    return c->im->rc = -1;
}

/* A header cell: checked, trimmed and kept. */
static int csv_header_field(csv_reader *c, const char *text, size_t len)
{
    const char *problem = text_problem(text, len);
    if (problem)
        return csv_header_fail(c, "%s in column %zu", problem, c->column_count + 1);
    while (len && (*text == ' ' || *text == '\t'))
        text++, len--;
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    if (c->column_count == c->column_cap) {
        size_t cap = c->column_cap ? 2 * c->column_cap : 16;
        char **grown = realloc(c->columns, cap * sizeof *grown);
        if (!grown) return out_of_memory(c->im);
        c->columns = grown, c->column_cap = cap;
    }
    if (!(c->columns[c->column_count] = strndup(text, len))) return out_of_memory(c->im);
    c->column_count++;
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Empty and duplicate names (sorted, so n log n); returns 0 or -1. */
static int csv_check_names(csv_reader *c)
{
    for (size_t i = 0; i < c->column_count; i++)
        if (!c->columns[i][0]) return csv_header_fail(c, "column %zu has no name", i + 1);
    char **sorted = malloc(c->column_count * sizeof *sorted);
    if (!sorted) return out_of_memory(c->im);
    memcpy(sorted, c->columns, c->column_count * sizeof *sorted);
    qsort(sorted, c->column_count, sizeof *sorted, compare_names);
    int rc = 0;
    for (size_t i = 1; i < c->column_count && !rc; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            rc = csv_header_fail(c, "column \"%.80s\" appears twice", sorted[i]);
    free(sorted);
    return rc;
}

/* The header is complete: check the names and find the id column, the
 * first of csv_id_names present (in that order of preference). */
static void csv_header_done(csv_reader *c)
{
    if (c->im->rc || csv_check_names(c)) return;
    for (int n = 0; csv_id_names[n]; n++)
        for (size_t i = 0; i < c->column_count; i++)
            if (strcmp(c->columns[i], csv_id_names[n]) == 0) {
                c->id_column = i;
                c->have_header = 1;
                return;
            }
    csv_header_fail(c, "no id column (name one \"id\", \"userId\" or \"user_id\")");
}

static int csv_keep_id(csv_reader *c, const char *text, size_t len)
{
    if (len >= c->id_cap) {
        char *grown = realloc(c->id, len + 64);
        if (!grown) return out_of_memory(c->im);
        c->id = grown, c->id_cap = len + 64;
    }
    memcpy(c->id, text, len + 1);
    c->id_len = len;
    return 0;
}

/* A cell of a data row (NUL-terminated): the id, a trait, or a problem. */
static int csv_data_field(csv_reader *c, const char *text, size_t len, size_t column)
{
    const char *problem = text_problem(text, len);
    if (problem) {
        snprintf(c->why, sizeof c->why, "%s in column \"%.80s\"", problem,
                 c->columns[column]);
        return 0;
    }
    if (column == c->id_column) return csv_keep_id(c, text, len);
    if (!len) return 0;
    if (!c->traits && !(c->traits = cJSON_CreateObject())) return out_of_memory(c->im);
    if (!cJSON_AddStringToObject(c->traits, c->columns[column], text))
        return out_of_memory(c->im);
    return 0;
}

/* libcsv's field callback; CSV_APPEND_NULL makes `data` NUL-terminated. */
static void csv_on_field(void *data, size_t len, void *ctx)
{
    csv_reader *c = ctx;
    size_t column = c->fields++;
    if (c->im->rc) return;
    if (!c->have_header)
        csv_header_field(c, data, len);
    else if (column < c->column_count && !c->why[0])
        csv_data_field(c, data, len, column);
}

static int csv_data_row_done(csv_reader *c)
{
    importer *im = c->im;
    if (c->fields != c->column_count)
        return reject(im, c->line, "%zu field%s where the header has %zu", c->fields,
                      c->fields == 1 ? "" : "s", c->column_count);
    if (c->why[0]) return reject(im, c->line, "%s", c->why);
    if (!c->id_len)
        return reject(im, c->line, "empty id (column \"%s\")", c->columns[c->id_column]);
    if (!c->traits && !(c->traits = cJSON_CreateObject())) return out_of_memory(im);
    return deliver(im, c->line, c->id, c->traits);
}

/* libcsv's row callback; a row without fields is a blank line. */
static void csv_on_row(int terminator, void *ctx)
{
    csv_reader *c = ctx;
    (void)terminator;
    c->at_row_start = 1;
    if (c->im->rc || c->fields == 0) return;
    if (!c->have_header)
        csv_header_done(c);
    else
        csv_data_row_done(c);
    csv_row_clear(c);
}

/* csv_parse stopped early on line `line`: bad quoting, or out of memory. */
static void csv_parse_failed(csv_reader *c, long line)
{
    int error = csv_error(&c->parser);
    if (error != CSV_EPARSE) {
        log_error("%s:%ld: %s", c->im->source, line, csv_strerror(error));
        c->im->rc = -1;
    } else if (!c->have_header) {
        csv_header_fail(c, "a stray quote on line %ld", line);
    } else {
        char where[40] = "";
        if (line != c->line) snprintf(where, sizeof where, " on line %ld", line);
        reject(c->im, c->line,
               "a stray quote%s (quotes go around a whole field; a quote inside one "
               "is written \"\")",
               where);
    }
    csv_start(c);
}

/* Drops the row that line `line` takes past the limit. */
static void csv_too_long(csv_reader *c, long line)
{
    const int kb = IMPORT_ROW_MAX_BYTES / 1024;
    if (!c->have_header)
        csv_header_fail(c, "header over %d KB", kb);
    else if (line == c->line)
        reject(c->im, c->line, "row over %d KB", kb);
    else
        reject(c->im, c->line, "row over %d KB by line %ld (is a quote left open?)", kb,
               line);
    csv_start(c);
}

/* One physical line, with its line ending, to libcsv. */
static void csv_feed(csv_reader *c, const text_line *l)
{
    if (c->at_row_start) {
        c->at_row_start = 0;
        c->line = l->number;
        c->bytes = 0;
    }
    if (l->too_long ||
        c->bytes + content_length(l->text, l->len) > IMPORT_ROW_MAX_BYTES) {
        csv_too_long(c, l->number);
        return;
    }
    c->bytes += l->len;
    size_t used = csv_parse(&c->parser, l->text, l->len, csv_on_field, csv_on_row, c);
    if (used < l->len && !c->im->rc) csv_parse_failed(c, l->number);
}

/* The end of the input: the last row may lack its newline, or its quote. */
static void csv_finish(csv_reader *c)
{
    if (csv_fini(&c->parser, csv_on_field, csv_on_row, c) != 0) {
        if (!c->have_header)
            csv_header_fail(c, "a quoted name is not closed");
        else
            reject(c->im, c->line,
                   "a quoted field is not closed by the end of the input");
    } else if (!c->have_header && !c->im->rc) {
        log_warn("%s: no header row (the input is empty)", c->im->source);
    }
}

static int csv_read(importer *im, line_reader *lr)
{
    csv_reader c = {.im = im};
    text_line l;
    int got = 0;
    csv_init(&c.parser, CSV_OPTIONS);
    csv_start(&c);
    while (!im->rc && (got = reader_next(lr, &l)) > 0)
        csv_feed(&c, &l);
    if (got < 0) im->rc = -1;
    if (!im->rc) csv_finish(&c);
    csv_free(&c.parser);
    csv_row_clear(&c);
    for (size_t i = 0; i < c.column_count; i++)
        free(c.columns[i]);
    free(c.columns);
    free(c.id);
    return im->rc;
}

/* ---- NDJSON ----------------------------------------------------------- */

/* The string id of a row object, or NULL with the reason in why. */
static cJSON *ndjson_id(cJSON *obj, char *why, size_t why_len)
{
    static const char *const keys[] = {"userId", "id", NULL};
    for (int i = 0; keys[i]; i++) {
        cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, keys[i]);
        if (!item) continue;
        if (cJSON_IsString(item) && item->valuestring[0]) return item;
        snprintf(why, why_len,
                 cJSON_IsString(item) ? "empty \"%s\"" : "\"%s\" is not a string",
                 keys[i]);
        return NULL;
    }
    snprintf(why, why_len, "missing \"userId\" (or \"id\")");
    return NULL;
}

/* A parsed line: {"userId": ..., "traits": {...}} or a flat object. */
static int ndjson_object(importer *im, cJSON *obj, long line)
{
    char why[96];
    if (!cJSON_IsObject(obj)) return reject(im, line, "not a JSON object");
    cJSON *id = ndjson_id(obj, why, sizeof why);
    if (!id) return reject(im, line, "%s", why);
    cJSON *traits = cJSON_GetObjectItemCaseSensitive(obj, "traits");
    if (traits && !cJSON_IsObject(traits))
        return reject(im, line, "\"traits\" is not an object");
    if (traits) return deliver(im, line, id->valuestring, traits);
    cJSON_DetachItemViaPointer(obj, id);
    int rc = deliver(im, line, id->valuestring, obj);
    cJSON_Delete(id);
    return rc;
}

static int ndjson_line(importer *im, const text_line *l)
{
    size_t len = content_length(l->text, l->len);
    if (!l->too_long && blank_prefix(l->text, len) == len) return 0;
    if (l->too_long || len > IMPORT_ROW_MAX_BYTES)
        return reject(im, l->number, "line over %d KB", IMPORT_ROW_MAX_BYTES / 1024);
    const char *problem = text_problem(l->text, len);
    if (problem) return reject(im, l->number, "%s", problem);
    const char *end = NULL;
    cJSON *value = cJSON_ParseWithLengthOpts(l->text, len, &end, 0);
    size_t at = end ? (size_t)(end - l->text) : len;
    if (!value) return reject(im, l->number, "not valid JSON (at byte %zu)", at + 1);
    int rc;
    if (blank_prefix(end, len - at) != len - at)
        rc = reject(im, l->number, "text after the JSON value (at byte %zu)", at + 1);
    else
        rc = ndjson_object(im, value, l->number);
    cJSON_Delete(value);
    return rc;
}

static int ndjson_read(importer *im, line_reader *lr)
{
    text_line l;
    int got = 0;
    while (!im->rc && (got = reader_next(lr, &l)) > 0)
        ndjson_line(im, &l);
    if (got < 0) im->rc = -1;
    return im->rc;
}

/* ---- format ----------------------------------------------------------- */

enum import_format { FORMAT_UNKNOWN, FORMAT_CSV, FORMAT_NDJSON };

static enum import_format format_from_name(const char *source)
{
    const char *dot = strrchr(source, '.');
    if (!dot || strchr(dot, '/')) return FORMAT_UNKNOWN;
    if (strcasecmp(dot, ".csv") == 0) return FORMAT_CSV;
    if (!strcasecmp(dot, ".ndjson") || !strcasecmp(dot, ".jsonl") ||
        !strcasecmp(dot, ".json"))
        return FORMAT_NDJSON;
    return FORMAT_UNKNOWN;
}

/* NDJSON when the first non-blank byte is '{'.  The line holding it is
 * given back to the reader; blank lines before it stay read. */
static int format_sniff(line_reader *lr, enum import_format *format)
{
    text_line l;
    int got;
    *format = FORMAT_CSV;
    while ((got = reader_next(lr, &l)) > 0) {
        size_t skip = blank_prefix(l.text, l.len);
        if (skip == l.len) continue;
        reader_unread(lr);
        if (l.text[skip] == '{') *format = FORMAT_NDJSON;
        return 0;
    }
    return got;
}

int import_stream(FILE *in, const char *source,
                  int (*row)(void *ctx, const import_row *r), void *ctx,
                  import_stats *stats)
{
    import_stats unused = {0, 0, 0};
    importer im = {source ? source : "-", row, ctx, stats ? stats : &unused, 0};
    enum import_format format = format_from_name(im.source);
    line_reader lr;
    int rc = -1;
    if (reader_open(&lr, in, im.source)) goto done;
    if (format == FORMAT_UNKNOWN && format_sniff(&lr, &format)) goto done;
    rc = format == FORMAT_NDJSON ? ndjson_read(&im, &lr) : csv_read(&im, &lr);
done:
    free(lr.buf);
    return rc;
}
