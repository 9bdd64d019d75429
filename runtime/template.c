/* Message templates: a tokenizer for the Mustache subset of template.h
 * (with Mustache's "standalone line" rule for section and comment tags),
 * a renderer over cJSON with a context stack, and template file paths. */
#include "template.h"

#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    TOKEN_TEXT,
    TOKEN_VAR,      /* {{name}} */
    TOKEN_RAW,      /* {{{name}}} or {{& name}} */
    TOKEN_SECTION,  /* {{#name}} */
    TOKEN_INVERTED, /* {{^name}} */
    TOKEN_CLOSE,    /* {{/name}} */
    TOKEN_COMMENT   /* {{! ...}} */
} token_kind;

/* A piece of the template: text, or a tag's name (both point into it). */
typedef struct token {
    token_kind kind;
    const char *start;
    size_t len;
    int line;
    size_t close; /* sections: index of the matching {{/name}} */
} token;

typedef struct token_list {
    token *items;
    size_t count, cap;
} token_list;

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The tag as the writer typed it, for messages: "{{#items}}". */
static void tag_text(const token *t, char *buf, size_t buf_len)
{
    static const char *const open[] = {"", "{{", "{{{", "{{#", "{{^", "{{/", "{{!"};
    const char *close = t->kind == TOKEN_RAW ? "}}}" : "}}";
    snprintf(buf, buf_len, "%s%.*s%s", open[t->kind], (int)t->len, t->start, close);
}

/* ---- tokenizer ---------------------------------------------------------- */

static int push_token(token_list *list, token_kind kind, const char *start, size_t len,
                      int line)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 32;
        token *items = realloc(list->items, cap * sizeof *items);
        if (!items) return -1;
        list->items = items;
        list->cap = cap;
    }
    list->items[list->count++] = (token){kind, start, len, line, 0};
    return 0;
}

static int count_lines(const char *from, const char *to)
{
    int n = 0;
    for (; from < to; from++)
        n += *from == '\n';
    return n;
}

/* Where NEEDLE starts in [p, ...), not crossing a newline unless
 * MULTILINE; NULL when absent. */
static const char *find_close(const char *p, const char *needle, int multiline)
{
    size_t n = strlen(needle);
    for (; *p; p++) {
        if (strncmp(p, needle, n) == 0) return p;
        if (*p == '\n' && !multiline) return NULL;
    }
    return NULL;
}

/* Names are runs of anything but spaces and braces, joined by single dots
 * ("profile.first_name"), or "." alone (the current element). */
static int valid_name(const char *s, size_t len)
{
    if (len == 1 && s[0] == '.') return 1;
    if (len == 0 || len > TEMPLATE_MAX_NAME || s[0] == '.' || s[len - 1] == '.') return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isspace(c) || c == '{' || c == '}') return 0;
        if (c == '.' && s[i + 1] == '.') return 0;
    }
    return 1;
}

static void trim(const char **s, size_t *len)
{
    while (*len && isspace((unsigned char)**s))
        (*s)++, (*len)--;
    while (*len && isspace((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

/* A parsed tag: its kind, its name, and where the text after it starts. */
typedef struct tag {
    token_kind kind;
    const char *name;
    size_t len;
    const char *end;
} tag;

static token_kind sigil_kind(char c)
{
    switch (c) {
    case '#':
        return TOKEN_SECTION;
    case '^':
        return TOKEN_INVERTED;
    case '/':
        return TOKEN_CLOSE;
    case '!':
        return TOKEN_COMMENT;
    case '&':
        return TOKEN_RAW;
    default:
        return TOKEN_VAR;
    }
}

static int unsupported(char c, int line, char *err, size_t err_len)
{
    if (c == '>')
        return fail(err, err_len, "line %d: partials ({{> name}}) are not supported",
                    line);
    return fail(err, err_len, "line %d: changing delimiters ({{=...=}}) is not supported",
                line);
}

/* Parses the tag that opens at OPEN ("{{").  0, or -1 with a message. */
static int parse_tag(const char *open, int line, tag *t, char *err, size_t err_len)
{
    const char *body = open + 2, *close;
    int triple = *body == '{';
    if (triple) body++;
    int comment = !triple && *body == '!';
    close = find_close(body, triple ? "}}}" : "}}", comment);
    if (!close)
        return fail(err, err_len, "line %d: %s has no closing %s%s", line,
                    triple ? "{{{" : "{{", triple ? "}}}" : "}}",
                    comment ? "" : " on the same line");
    t->end = close + (triple ? 3 : 2);
    t->name = body;
    t->len = (size_t)(close - body);
    trim(&t->name, &t->len);
    t->kind = triple ? TOKEN_RAW : sigil_kind(t->len ? t->name[0] : 0);
    if (!triple && t->len && (t->name[0] == '>' || t->name[0] == '='))
        return unsupported(t->name[0], line, err, err_len);
    if (!triple && t->kind != TOKEN_VAR) t->name++, t->len--, trim(&t->name, &t->len);
    if (t->kind == TOKEN_COMMENT || valid_name(t->name, t->len)) return 0;
    if (t->len == 0) return fail(err, err_len, "line %d: a tag has no name", line);
    return fail(err, err_len,
                "line %d: %.*s is not a valid name (use letters, digits, _ and -, "
                "with dots between parts, as in profile.first_name)",
                line, (int)(t->end - open), open);
}

/* Mustache's standalone rule: a section, closing or comment tag alone on
 * its line takes the whole line with it, so lists do not leave blank lines.
 * TEXT_START is where the text before the tag begins. */
static void apply_standalone(const char *text, const char *text_start, const char *open,
                             tag *t, const char **text_end)
{
    const char *before = open, *after = t->end;
    *text_end = open;
    if (t->kind == TOKEN_VAR || t->kind == TOKEN_RAW) return;
    while (before > text_start && (before[-1] == ' ' || before[-1] == '\t'))
        before--;
    if (before != text && before[-1] != '\n') return;
    while (*after == ' ' || *after == '\t')
        after++;
    if (*after == '\r' && after[1] == '\n') after++;
    if (*after != '\n' && *after != '\0') return;
    *text_end = before;
    t->end = *after ? after + 1 : after;
}

/* Splits TEXT into tokens.  0, or -1 with a message. */
static int tokenize(const char *text, token_list *list, char *err, size_t err_len)
{
    const char *pos = text, *open, *text_end;
    int line = 1;
    while ((open = strstr(pos, "{{"))) {
        int tag_line = line + count_lines(pos, open);
        tag t;
        if (parse_tag(open, tag_line, &t, err, err_len)) return -1;
        apply_standalone(text, pos, open, &t, &text_end);
        if (text_end > pos &&
            push_token(list, TOKEN_TEXT, pos, (size_t)(text_end - pos), line))
            goto oom;
        if (push_token(list, t.kind, t.name, t.len, tag_line)) goto oom;
        line = tag_line + count_lines(open, t.end);
        pos = t.end;
    }
    if (*pos && push_token(list, TOKEN_TEXT, pos, strlen(pos), line)) goto oom;
    return 0;
oom:
    return fail(err, err_len, "out of memory");
}

static int same_name(const token *a, const token *b)
{
    return a->len == b->len && memcmp(a->start, b->start, a->len) == 0;
}

/* Pairs each {{#name}} / {{^name}} with its {{/name}}. */
static int match_sections(token_list *list, char *err, size_t err_len)
{
    size_t open[TEMPLATE_MAX_DEPTH];
    int depth = 0;
    char a[TEMPLATE_MAX_NAME + 8], b[TEMPLATE_MAX_NAME + 8];
    for (size_t i = 0; i < list->count; i++) {
        token *t = &list->items[i];
        if (t->kind == TOKEN_SECTION || t->kind == TOKEN_INVERTED) {
            if (depth == TEMPLATE_MAX_DEPTH)
                return fail(err, err_len, "line %d: sections nested deeper than %d",
                            t->line, TEMPLATE_MAX_DEPTH);
            open[depth++] = i;
        } else if (t->kind == TOKEN_CLOSE) {
            tag_text(t, a, sizeof a);
            if (depth == 0)
                return fail(err, err_len, "line %d: %s closes no section", t->line, a);
            token *o = &list->items[open[--depth]];
            tag_text(o, b, sizeof b);
            if (!same_name(o, t))
                return fail(err, err_len, "line %d: %s does not close %s (line %d)",
                            t->line, a, b, o->line);
            o->close = i;
        }
    }
    if (depth == 0) return 0;
    token *o = &list->items[open[depth - 1]];
    tag_text(o, b, sizeof b);
    return fail(err, err_len, "line %d: %s is never closed (add {{/%.*s}})", o->line, b,
                (int)o->len, o->start);
}

static int parse(const char *text, token_list *list, char *err, size_t err_len)
{
    if (!text) return fail(err, err_len, "no template text");
    if (tokenize(text, list, err, err_len)) return -1;
    return match_sections(list, err, err_len);
}

/* ---- renderer ----------------------------------------------------------- */

typedef struct render {
    const token *tokens;
    const cJSON *stack[TEMPLATE_MAX_DEPTH + 1];  /* [0] is the message's vars */
    const token *opened[TEMPLATE_MAX_DEPTH + 1]; /* the section that pushed each */
    int depth;
    int html_escape;
    long steps;
    char *out;
    size_t len, cap;
    char *err;
    size_t err_len;
} render;

static int emit(render *r, const token *t, const char *s, size_t n)
{
    if (r->len + n > TEMPLATE_MAX_OUTPUT)
        return fail(r->err, r->err_len, "line %d: the message is over %d bytes", t->line,
                    TEMPLATE_MAX_OUTPUT);
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap * 2;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *grown = realloc(r->out, cap);
        if (!grown) return fail(r->err, r->err_len, "out of memory");
        r->out = grown;
        r->cap = cap;
    }
    memcpy(r->out + r->len, s, n);
    r->len += n;
    r->out[r->len] = '\0';
    return 0;
}

static int emit_escaped(render *r, const token *t, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *entity = *s == '&'    ? "&amp;"
                             : *s == '<'  ? "&lt;"
                             : *s == '>'  ? "&gt;"
                             : *s == '"'  ? "&quot;"
                             : *s == '\'' ? "&#39;"
                                          : NULL;
        if (!entity) continue;
        if (emit(r, t, run, (size_t)(s - run)) || emit(r, t, entity, strlen(entity)))
            return -1;
        run = s + 1;
    }
    return emit(r, t, run, (size_t)(s - run));
}

/* Looks NAME up: "." is the innermost value; otherwise the first part is
 * searched from the innermost section outward, and the other parts inside
 * what it found.  NULL when missing; *WHERE is then the object in which a
 * later part was missing (NULL when the first part was). */
static const cJSON *lookup(const render *r, const token *t, const cJSON **where)
{
    char name[TEMPLATE_MAX_NAME + 1], *part, *save = NULL;
    const cJSON *v = NULL;
    *where = NULL;
    if (t->len == 1 && t->start[0] == '.') return r->stack[r->depth - 1];
    memcpy(name, t->start, t->len);
    name[t->len] = '\0';
    part = strtok_r(name, ".", &save);
    for (int i = r->depth - 1; i >= 0 && !v; i--)
        if (cJSON_IsObject(r->stack[i]))
            v = cJSON_GetObjectItemCaseSensitive(r->stack[i], part);
    while (v && (part = strtok_r(NULL, ".", &save))) {
        const cJSON *next =
            cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, part) : NULL;
        if (!next) *where = v;
        v = next;
    }
    return v;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "discount, items": the keys of OBJ, sorted, at most 20. */
static void list_keys(const cJSON *obj, char *buf, size_t buf_len)
{
    const char *names[21] = {0};
    size_t n = 0, used = 0;
    const cJSON *item;
    buf[0] = '\0';
    cJSON_ArrayForEach(item, obj) if (n < 21 && item->string) names[n++] = item->string;
    qsort(names, n > 20 ? 20 : n, sizeof names[0], compare_names);
    for (size_t i = 0; i < n && used < buf_len; i++)
        used += (size_t)snprintf(buf + used, buf_len - used, "%s%s", i ? ", " : "",
                                 i == 20 ? "..." : names[i]);
}

static int missing(render *r, const token *t, const cJSON *where)
{
    char tagbuf[TEMPLATE_MAX_NAME + 8], inside[TEMPLATE_MAX_NAME + 16] = "", keys[512];
    tag_text(t, tagbuf, sizeof tagbuf);
    if (where && cJSON_IsObject(where) && where->child && where->string) {
        list_keys(where, keys, sizeof keys);
        return fail(r->err, r->err_len, "line %d: %s has no value (%s has: %s)", t->line,
                    tagbuf, where->string, keys);
    }
    if (r->depth > 1) {
        const token *o = r->opened[r->depth - 1];
        snprintf(inside, sizeof inside, " inside {{#%.*s}}", (int)o->len, o->start);
    }
    if (!cJSON_IsObject(r->stack[0]) || !r->stack[0]->child)
        return fail(r->err, r->err_len,
                    "line %d: %s has no value%s (the message has no vars)", t->line,
                    tagbuf, inside);
    list_keys(r->stack[0], keys, sizeof keys);
    return fail(r->err, r->err_len,
                "line %d: %s has no value%s (the message's vars have: %s)", t->line,
                tagbuf, inside, keys);
}

/* Numbers as JSON prints them: 10, 19.99, 1e+300. */
static void format_number(double d, char *buf, size_t buf_len)
{
    if (isfinite(d) && d == floor(d) && fabs(d) < 1e15) {
        snprintf(buf, buf_len, "%.0f", d == 0 ? 0.0 : d);
        return;
    }
    snprintf(buf, buf_len, "%.15g", d);
    if (strtod(buf, NULL) != d) snprintf(buf, buf_len, "%.17g", d);
}

static int not_printable(render *r, const token *t, const cJSON *v)
{
    char tagbuf[TEMPLATE_MAX_NAME + 8];
    tag_text(t, tagbuf, sizeof tagbuf);
    if (cJSON_IsArray(v))
        return fail(r->err, r->err_len,
                    "line %d: %s is a list; go through it with {{#%.*s}}...{{/%.*s}}",
                    t->line, tagbuf, (int)t->len, t->start, (int)t->len, t->start);
    const char *field = v->child && v->child->string ? v->child->string : "field";
    return fail(r->err, r->err_len,
                "line %d: %s holds several values; name one, as in {{%.*s.%s}}", t->line,
                tagbuf, (int)t->len, t->start, field);
}

static int render_var(render *r, const token *t)
{
    const cJSON *where, *v = lookup(r, t, &where);
    char number[64];
    const char *s;
    if (!v) return missing(r, t, where);
    if (cJSON_IsNull(v)) return 0;
    if (cJSON_IsArray(v) || cJSON_IsObject(v)) return not_printable(r, t, v);
    if (cJSON_IsBool(v))
        s = cJSON_IsTrue(v) ? "true" : "false";
    else if (cJSON_IsNumber(v)) {
        format_number(v->valuedouble, number, sizeof number);
        s = number;
    } else
        s = v->valuestring ? v->valuestring : "";
    if (r->html_escape && t->kind == TOKEN_VAR) return emit_escaped(r, t, s);
    return emit(r, t, s, strlen(s));
}

/* Mustache's falsey values, plus "" and 0 as mustache.js has them. */
static int truthy(const cJSON *v)
{
    if (!v || cJSON_IsFalse(v) || cJSON_IsNull(v)) return 0;
    if (cJSON_IsArray(v)) return v->child != NULL;
    if (cJSON_IsString(v)) return v->valuestring && v->valuestring[0];
    if (cJSON_IsNumber(v)) return v->valuedouble != 0;
    return 1;
}

/* Counts one unit of work (a tag, or one pass through a section) against
 * TEMPLATE_MAX_STEPS, so loops in loops that print nothing still end. */
static int step(render *r, const token *t)
{
    if (++r->steps <= TEMPLATE_MAX_STEPS) return 0;
    return fail(r->err, r->err_len,
                "line %d: the template does too much work (over %ld steps)", t->line,
                TEMPLATE_MAX_STEPS);
}

static int render_range(render *r, size_t from, size_t to);

/* Renders the inside of the section at I once with V as the innermost value. */
static int render_with(render *r, size_t i, const cJSON *v)
{
    if (step(r, &r->tokens[i])) return -1;
    r->opened[r->depth] = &r->tokens[i];
    r->stack[r->depth++] = v;
    int rc = render_range(r, i + 1, r->tokens[i].close);
    r->depth--;
    return rc;
}

static int render_section(render *r, size_t i)
{
    const token *t = &r->tokens[i];
    const cJSON *where, *v = lookup(r, t, &where), *item;
    if (t->kind == TOKEN_INVERTED)
        return truthy(v) ? 0 : render_range(r, i + 1, t->close);
    if (!truthy(v)) return 0;
    if (!cJSON_IsArray(v)) return render_with(r, i, v);
    cJSON_ArrayForEach(item, v) if (render_with(r, i, item)) return -1;
    return 0;
}

/* Renders tokens [FROM, TO). */
static int render_range(render *r, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        const token *t = &r->tokens[i];
        int rc = 0;
        if (step(r, t)) return -1;
        if (t->kind == TOKEN_TEXT)
            rc = emit(r, t, t->start, t->len);
        else if (t->kind == TOKEN_VAR || t->kind == TOKEN_RAW)
            rc = render_var(r, t);
        else if (t->kind == TOKEN_SECTION || t->kind == TOKEN_INVERTED) {
            rc = render_section(r, i);
            i = t->close;
        }
        if (rc) return -1;
    }
    return 0;
}

int template_render(const char *text, const cJSON *data, int html_escape, char **out,
                    char *err, size_t err_len)
{
    token_list list = {0};
    cJSON *empty = NULL;
    render r = {.html_escape = html_escape, .err = err, .err_len = err_len, .depth = 1};
    *out = NULL;
    if (parse(text, &list, err, err_len)) goto fail;
    if (!data && !(data = empty = cJSON_CreateObject())) goto oom;
    r.tokens = list.items;
    r.stack[0] = data;
    r.cap = 256;
    if (!(r.out = malloc(r.cap))) goto oom;
    r.out[0] = '\0';
    if (render_range(&r, 0, list.count)) goto fail;
    *out = r.out;
    r.out = NULL;
    free(list.items);
    cJSON_Delete(empty);
    return 0;
oom:
    fail(err, err_len, "out of memory");
fail:
    free(r.out);
    free(list.items);
    cJSON_Delete(empty);
    return -1;
}

/* ---- names and paths ---------------------------------------------------- */

int template_names(const char *text,
                   void (*fn)(void *ctx, const char *name, int line, int in_section),
                   void *ctx, char *err, size_t err_len)
{
    token_list list = {0};
    size_t ends[TEMPLATE_MAX_DEPTH];
    int depth = 0;
    char name[TEMPLATE_MAX_NAME + 1];
    if (parse(text, &list, err, err_len)) {
        free(list.items);
        return -1;
    }
    for (size_t i = 0; i < list.count; i++) {
        const token *t = &list.items[i];
        while (depth && i >= ends[depth - 1])
            depth--;
        if (t->kind == TOKEN_TEXT || t->kind == TOKEN_CLOSE || t->kind == TOKEN_COMMENT)
            continue;
        if (!(t->len == 1 && t->start[0] == '.')) {
            memcpy(name, t->start, t->len);
            name[t->len] = '\0';
            fn(ctx, name, t->line, depth > 0);
        }
        if (t->kind == TOKEN_SECTION || t->kind == TOKEN_INVERTED)
            ends[depth++] = t->close;
    }
    free(list.items);
    return 0;
}

/* A file-name part: letters, digits, _ - and ., not starting with "." and
 * without "..". */
static int safe_part(const char *s)
{
    if (!s || !*s || s[0] == '.' || strstr(s, "..")) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.') return 0;
    return 1;
}

char *template_path(const char *recipe_dir, const char *name, const char *channel,
                    const char *ext)
{
    if (!recipe_dir || !safe_part(name) || !safe_part(channel) || !safe_part(ext))
        return NULL;
    if (!*recipe_dir) recipe_dir = ".";
    size_t n = strlen(recipe_dir) + strlen(name) + strlen(channel) + strlen(ext) + 16;
    char *path = malloc(n);
    if (path) snprintf(path, n, "%s/templates/%s.%s.%s", recipe_dir, name, channel, ext);
    return path;
}
