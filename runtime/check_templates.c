/* `nudge check`'s template pass: a small Lua tokenizer finds the j:send
 * calls with literal channel and template names (and, for check_lints.c, any
 * method call's literal arguments), then the template files beside the
 * recipe are checked for syntax, presence and the vars they need. */
#include "check_templates.h"

#include "textfile.h"

#include <cJSON.h>

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

/* ---- a Lua tokenizer: just enough to find j:send and j:wait_for calls ------ */

enum lex_kind {
    LEX_END,    /* the end of the source */
    LEX_NAME,   /* a name or keyword */
    LEX_STRING, /* a "..." or '...' literal, decoded into text */
    LEX_OPAQUE, /* a number or a long string: a value we do not read */
    LEX_PUNCT   /* an operator or bracket: "==" or one character */
};

typedef struct lexer {
    const char *p;
    int line;
} lexer;

typedef struct lex_token {
    enum lex_kind kind;
    int line;
    char punct[3];
    char text[CHECK_MAX_LITERAL]; /* a name, or a string's value */
    int text_ok; /* 0: too long, or an escape (\x, \u, \ddd, \z) not decoded */
} lex_token;

/* The level of a long bracket opening at P ("[[" is 0, "[==[" is 2), or -1. */
static int long_bracket_level(const char *p)
{
    int level = 0;
    if (*p++ != '[') return -1;
    while (*p == '=')
        p++, level++;
    return *p == '[' ? level : -1;
}

static void advance(lexer *lx)
{
    if (*lx->p == '\n') lx->line++;
    lx->p++;
}

/* Whether a long bracket of LEVEL closes at P: "]" LEVEL x "=" "]". */
static int closes_long_bracket(const char *p, int level)
{
    if (*p++ != ']') return 0;
    for (int i = 0; i < level; i++)
        if (*p++ != '=') return 0;
    return *p == ']';
}

/* Skips a long string or long comment opening at lx->p, up to its "]==]". */
static void skip_long_bracket(lexer *lx, int level)
{
    lx->p += level + 2;
    while (*lx->p && !closes_long_bracket(lx->p, level))
        advance(lx);
    if (*lx->p) lx->p += level + 2;
}

/* Skips white space and comments: "-- to the end of the line", "--[[ ]]". */
static void skip_blank(lexer *lx)
{
    for (;;) {
        if (isspace((unsigned char)*lx->p)) {
            advance(lx);
        } else if (!strncmp(lx->p, "--", 2)) {
            lx->p += 2;
            int level = long_bracket_level(lx->p);
            if (level >= 0)
                skip_long_bracket(lx, level);
            else
                lx->p += strcspn(lx->p, "\n");
        } else {
            return;
        }
    }
}

static void append(lex_token *t, char c)
{
    size_t n = strlen(t->text);
    if (n + 1 < sizeof t->text)
        t->text[n] = c, t->text[n + 1] = '\0';
    else
        t->text_ok = 0;
}

/* One backslash escape of a short string (lx->p just after the "\"). */
static void read_escape(lexer *lx, lex_token *t)
{
    static const char from[] = "ntr\\\"'\n", to[] = "\n\t\r\\\"'\n";
    const char *simple = *lx->p ? strchr(from, *lx->p) : NULL;
    if (simple) {
        append(t, to[simple - from]);
        advance(lx);
        return;
    }
    t->text_ok = 0; /* \z, \x41, \65, \u{...}: the rest reads as plain text */
    if (*lx->p == 'z') {
        lx->p++;
        while (isspace((unsigned char)*lx->p))
            advance(lx);
    }
}

static void read_string(lexer *lx, lex_token *t)
{
    char quote = *lx->p++;
    t->kind = LEX_STRING;
    while (*lx->p && *lx->p != quote && *lx->p != '\n') {
        if (*lx->p == '\\') {
            lx->p++;
            read_escape(lx, t);
        } else {
            append(t, *lx->p++);
        }
    }
    if (*lx->p == quote) lx->p++;
}

static void read_name(lexer *lx, lex_token *t)
{
    t->kind = LEX_NAME;
    while (isalnum((unsigned char)*lx->p) || *lx->p == '_')
        append(t, *lx->p++);
}

/* 12, 0x1F, 1e-3, 0x1p+4: digits, letters, dots, and a sign after an exponent. */
static void read_number(lexer *lx, lex_token *t)
{
    t->kind = LEX_OPAQUE;
    while (isalnum((unsigned char)*lx->p) || *lx->p == '.' || *lx->p == '_') {
        char c = (char)tolower((unsigned char)*lx->p++);
        if ((c == 'e' || c == 'p') && (*lx->p == '+' || *lx->p == '-')) lx->p++;
    }
}

/* The next token of LX into T (T->kind LEX_END at the end). */
static void lex_next(lexer *lx, lex_token *t)
{
    skip_blank(lx);
    memset(t->punct, 0, sizeof t->punct);
    t->text[0] = '\0';
    t->text_ok = 1;
    t->line = lx->line;
    int level = long_bracket_level(lx->p);
    if (!*lx->p) {
        t->kind = LEX_END;
    } else if (isalpha((unsigned char)*lx->p) || *lx->p == '_') {
        read_name(lx, t);
    } else if (isdigit((unsigned char)*lx->p)) {
        read_number(lx, t);
    } else if (*lx->p == '"' || *lx->p == '\'') {
        read_string(lx, t);
    } else if (level >= 0) {
        t->kind = LEX_OPAQUE;
        skip_long_bracket(lx, level);
    } else {
        t->kind = LEX_PUNCT;
        size_t n = !strncmp(lx->p, "==", 2) ? 2 : 1;
        memcpy(t->punct, lx->p, n);
        lx->p += n;
    }
}

static int is_punct(const lex_token *t, const char *punct)
{
    return t->kind == LEX_PUNCT && !strcmp(t->punct, punct);
}

/* Whether the token after lx's position is PUNCT (LX does not move). */
static int peek_is(const lexer *lx, const char *punct)
{
    lexer ahead = *lx;
    lex_token t;
    lex_next(&ahead, &t);
    return is_punct(&t, punct);
}

/* ---- j:send calls ----------------------------------------------------------- */

/* Adds a vars key; 0 when there are more keys than we keep (vars unknown). */
static int add_key(send_call *call, const lex_token *t)
{
    if (!t->text_ok || strlen(t->text) > TEMPLATE_MAX_NAME)
        return 1; /* no template name */
    if (call->key_count == CHECK_MAX_KEYS) return 0;
    strcpy(call->keys[call->key_count++], t->text);
    return 1;
}

/* After a top-level "[": reads `"name"] =` up to the "=" and adds the key,
 * or leaves LX where it was and clears *KNOWN (a computed key: the vars
 * cannot be known).  1 when the key was read. */
static int read_bracket_key(lexer *lx, send_call *call, int *known)
{
    lexer start = *lx;
    lex_token key, t;
    lex_next(lx, &key);
    if (key.kind == LEX_STRING && key.text_ok) {
        lex_next(lx, &t);
        if (is_punct(&t, "]") && peek_is(lx, "="))
            return *known &= add_key(call, &key), 1;
    }
    *lx = start;
    *known = 0;
    return 0;
}

static int opens(const lex_token *t)
{
    return is_punct(t, "(") || is_punct(t, "[");
}

static int closes(const lex_token *t)
{
    return is_punct(t, ")") || is_punct(t, "]");
}

/* Reads a table constructor up to its "}" (the "{" is read), collecting the
 * keys at its top level.  1 when every top-level key is known. */
static int read_table(lexer *lx, send_call *call)
{
    int depth = 1, brackets = 0, after_separator = 1, known = 1;
    lex_token t;
    while (depth > 0) {
        lex_next(lx, &t);
        if (t.kind == LEX_END) return 0;
        int top = depth == 1 && brackets == 0;
        if (top && after_separator && t.kind == LEX_NAME && peek_is(lx, "="))
            known &= add_key(call, &t);
        else if (top && after_separator && is_punct(&t, "[") &&
                 read_bracket_key(lx, call, &known))
            t.kind = LEX_OPAQUE; /* its "]" is read too */
        depth += is_punct(&t, "{") - is_punct(&t, "}");
        brackets += opens(&t) - closes(&t);
        after_separator = top && (is_punct(&t, ",") || is_punct(&t, ";"));
    }
    return known;
}

/* The third argument onwards, after the template literal: 1 when this is a
 * call with literal names (sets call->vars_known), 0 when the template is
 * an expression ("cart_" .. variant). */
static int read_vars(lexer *lx, send_call *call)
{
    lex_token t;
    lex_next(lx, &t);
    if (is_punct(&t, ")")) return call->vars_known = 1;
    if (!is_punct(&t, ",")) return 0;
    lex_next(lx, &t);
    int known = 0;
    if (is_punct(&t, "{"))
        known = read_table(lx, call);
    else if (t.kind == LEX_NAME && !strcmp(t.text, "nil"))
        known = 1;
    else
        return 1;
    call->vars_known = known && (peek_is(lx, ")") || peek_is(lx, ","));
    return 1;
}

static int read_literal(lexer *lx, char *out)
{
    lex_token t;
    lex_next(lx, &t);
    if (t.kind != LEX_STRING || !t.text_ok) return 0;
    strcpy(out, t.text);
    return 1;
}

/* After RECEIVER ":" "send": the call's arguments, reported when literal. */
static void read_send(lexer *lx, const lex_token *receiver,
                      void (*fn)(void *ctx, const send_call *call), void *ctx)
{
    send_call call;
    lex_token t;
    memset(&call, 0, sizeof call);
    call.line = receiver->line;
    strcpy(call.receiver, receiver->text);
    lex_next(lx, &t);
    if (!is_punct(&t, "(") || !read_literal(lx, call.channel)) return;
    lex_next(lx, &t);
    if (is_punct(&t, ",") && read_literal(lx, call.template_name) && read_vars(lx, &call))
        fn(ctx, &call);
}

/* What to do after each RECEIVER ":" METHOD: LX stands just past METHOD. */
typedef void (*call_reader)(lexer *lx, const lex_token *receiver, void *reader);

/* Calls READ (with READER) at each NAME ":" METHOD of SOURCE, in order. */
static void walk_calls(const char *source, const char *method, call_reader read,
                       void *reader)
{
    lexer lx = {source, 1};
    lex_token t, receiver;
    int seen = 0; /* 1: a name was just read; 2: a name and ":" */
    for (lex_next(&lx, &t); t.kind != LEX_END; lex_next(&lx, &t)) {
        if (seen == 2 && t.kind == LEX_NAME && !strcmp(t.text, method)) {
            read(&lx, &receiver, reader);
            seen = 0;
        } else if (t.kind == LEX_NAME) {
            receiver = t;
            seen = 1;
        } else {
            seen = seen == 1 && is_punct(&t, ":") ? 2 : 0;
        }
    }
}

typedef struct send_reader {
    void (*fn)(void *ctx, const send_call *call);
    void *ctx;
} send_reader;

static void on_send(lexer *lx, const lex_token *receiver, void *reader)
{
    send_reader *r = reader;
    read_send(lx, receiver, r->fn, r->ctx);
}

void check_find_sends(const char *source, void (*fn)(void *ctx, const send_call *call),
                      void *ctx)
{
    send_reader r = {fn, ctx};
    walk_calls(source, "send", on_send, &r);
}

/* ---- any NAME:METHOD call: its leading literal arguments --------------------- */

typedef struct literal_reader {
    void (*fn)(void *ctx, const literal_call *call);
    void *ctx;
} literal_reader;

/* 1 (the literal in CALL, and LX past its "," or ")") when the next argument
 * is a string literal alone; else 0 and LX where it was. */
static int read_literal_argument(lexer *lx, literal_call *call)
{
    lexer start = *lx;
    lex_token t;
    lex_next(lx, &t);
    if (t.kind == LEX_STRING && t.text_ok && (peek_is(lx, ",") || peek_is(lx, ")"))) {
        strcpy(call->literals[call->literal_count++], t.text);
        return 1;
    }
    *lx = start;
    return 0;
}

static void on_call(lexer *lx, const lex_token *receiver, void *reader)
{
    literal_reader *r = reader;
    literal_call call;
    lex_token t;
    if (!peek_is(lx, "(")) return; /* j:send "x" or j:send { }: not read */
    memset(&call, 0, sizeof call);
    call.line = receiver->line;
    strcpy(call.receiver, receiver->text);
    lex_next(lx, &t);
    while (call.literal_count < CHECK_MAX_LITERALS && read_literal_argument(lx, &call)) {
        lex_next(lx, &t);
        if (is_punct(&t, ")")) break;
    }
    r->fn(r->ctx, &call);
}

void check_find_calls(const char *source, const char *method,
                      void (*fn)(void *ctx, const literal_call *call), void *ctx)
{
    literal_reader r = {fn, ctx};
    walk_calls(source, method, on_call, &r);
}

int check_journey_line(const char *source)
{
    lexer lx = {source, 1};
    lex_token t;
    for (lex_next(&lx, &t); t.kind != LEX_END; lex_next(&lx, &t))
        if (t.kind == LEX_NAME && !strcmp(t.text, "journey") &&
            (peek_is(&lx, "{") || peek_is(&lx, "(")))
            return t.line;
    return 1;
}

/* ---- template files ---------------------------------------------------------- */

/* RECIPE_PATH's folder ("" for a bare file name), malloc'd. */
static char *recipe_folder(const char *recipe_path)
{
    const char *slash = strrchr(recipe_path, '/');
    size_t len = !slash ? 0 : slash == recipe_path ? 1 : (size_t)(slash - recipe_path);
    return strndup(recipe_path, len);
}

static void ignore_name(void *ctx, const char *name, int line, int in_section)
{
    (void)ctx, (void)name, (void)line, (void)in_section;
}

/* "FILE:N: rest" from template_names' "line N: rest". */
static void print_template_error(FILE *out, const char *file, const char *err)
{
    int line = 0, used = 0;
    if (sscanf(err, "line %d: %n", &line, &used) == 1 && used > 0)
        fprintf(out, "%s:%d: %s\n", file, line, err + used);
    else
        fprintf(out, "%s:1: %s\n", file, err);
}

/* The template of a leading "Subject: ..." line (malloc'd), or NULL. */
static char *subject_line(const char *text)
{
    if (strncmp(text, "Subject:", 8)) return NULL;
    return strndup(text + 8, strcspn(text + 8, "\r\n"));
}

/* 1 (reported) when FILE's TEXT is not a valid template.  The file is checked
 * whole, so lines are the file's; a Subject line is also checked alone, as
 * delivery renders it apart from the body. */
static int check_syntax(const char *file, const char *text, FILE *out)
{
    char err[400];
    if (template_names(text, ignore_name, NULL, err, sizeof err)) {
        print_template_error(out, file, err);
        return 1;
    }
    char *subject = subject_line(text);
    int bad = subject && template_names(subject, ignore_name, NULL, err, sizeof err);
    if (bad) print_template_error(out, file, err);
    free(subject);
    return bad;
}

static int is_template_file(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && ((n > 4 && !strcmp(name + n - 4, ".txt")) ||
                              (n > 5 && !strcmp(name + n - 5, ".html")));
}

int check_template_folder(const char *recipe_path, FILE *out)
{
    char *folder = recipe_folder(recipe_path), dir[4096];
    struct dirent **names;
    int errors = 0;
    snprintf(dir, sizeof dir, "%s/templates", folder && *folder ? folder : ".");
    free(folder);
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        char *text = is_template_file(names[i]->d_name) ? textfile_read(path, NULL) : NULL;
        if (text) errors += check_syntax(path, text, out);
        free(text);
        free(names[i]);
    }
    if (n >= 0) free(names);
    return errors;
}

/* ---- what each j:send needs ------------------------------------------------- */

typedef struct send_check {
    const char *recipe_path, *folder;
    const config *cfg;
    cJSON *inline_templates; /* the recipe's journey{ templates }, or NULL */
    FILE *out;
    int errors;
} send_check;

/* The names one template file uses that one call must pass. */
typedef struct vars_check {
    send_check *check;
    const send_call *call;
    const char *file, *text;
    int reported_count; /* first segments already reported for this file */
    char reported[CHECK_MAX_KEYS][TEMPLATE_MAX_NAME + 1];
} vars_check;

static int call_passes(const send_call *call, const char *key)
{
    for (int i = 0; i < call->key_count; i++)
        if (!strcmp(call->keys[i], key)) return 1;
    return 0;
}

/* 1 the first time SEGMENT is missing from this file's needs. */
static int first_report(vars_check *vc, const char *segment)
{
    for (int i = 0; i < vc->reported_count; i++)
        if (!strcmp(vc->reported[i], segment)) return 0;
    if (vc->reported_count < CHECK_MAX_KEYS)
        strcpy(vc->reported[vc->reported_count++], segment);
    return 1;
}

/* 1 when TEXT opens a section on NAME ({{#name}} or {{^name}}): a value
 * that may be left out. */
static int opens_section(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(text, "{{"); p; p = strstr(p + 2, "{{")) {
        const char *q = p + 2 + strspn(p + 2, " ");
        if (*q != '#' && *q != '^') continue;
        q += 1 + strspn(q + 1, " ");
        if (!strncmp(q, name, n) && (q[n] == '}' || q[n] == ' ')) return 1;
    }
    return 0;
}

static void check_name(void *ctx, const char *name, int line, int in_section)
{
    vars_check *vc = ctx;
    char first[TEMPLATE_MAX_NAME + 1];
    if (in_section) return; /* may come from the section's value */
    if (opens_section(vc->text, name)) return; /* a section may be left out */
    snprintf(first, sizeof first, "%.*s", (int)strcspn(name, "."), name);
    if (!strcmp(first, "profile") || !strcmp(first, "unsubscribe_url") ||
        call_passes(vc->call, first) || !first_report(vc, first))
        return;
    fprintf(vc->check->out,
            "%s:%d: template %s line %d uses {{%s}}, but this %s:send passes no '%s'\n",
            vc->check->recipe_path, vc->call->line, vc->file, line, name,
            vc->call->receiver, first);
    vc->check->errors++;
}

/* The names FILE (TEXT; NULL: absent) needs that CALL does not pass.  A file
 * with a syntax error is skipped here: the folder check reports it. */
static void check_vars(send_check *sc, const send_call *call, const char *file,
                       const char *text)
{
    char err[400];
    vars_check *vc = calloc(1, sizeof *vc);
    if (!text || !vc) {
        free(vc);
        return;
    }
    vc->check = sc, vc->call = call, vc->file = file, vc->text = text;
    template_names(text, check_name, vc, err, sizeof err);
    free(vc);
}

static int renders_templates(const config *cfg, const char *channel)
{
    const channel_config *ch = config_channel(cfg, channel);
    return ch && ch->adapter && strcmp(ch->adapter, "file");
}

static void report_call(send_check *sc, const send_call *call, const char *problem)
{
    fprintf(sc->out, "%s:%d: %s:send(\"%s\", \"%s\"): %s\n", sc->recipe_path, call->line,
            call->receiver, call->channel, call->template_name, problem);
    sc->errors++;
}

static void report_missing(send_check *sc, const send_call *call, const char *txt_path)
{
    char problem[8300];
    snprintf(problem, sizeof problem, "no template %s (or .html)", txt_path);
    report_call(sc, call, problem);
}

/* journey{ templates = { NAME = { CHANNEL = text | { subject, text, html } } } }:
 * 1 when the recipe has CALL's template, its syntax and vars checked. */
static int check_inline(send_check *sc, const send_call *call)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(sc->inline_templates, call->template_name),
        call->channel);
    static const char *const parts[] = {"subject", "text", "html"};
    char label[1200];
    if (!t) return 0;
    for (int i = 0; i < (cJSON_IsString(t) ? 1 : 3); i++) {
        const char *text = cJSON_IsString(t) ? t->valuestring
                                             : cJSON_GetStringValue(cJSON_GetObjectItem(
                                                   t, parts[i]));
        if (!text) continue;
        snprintf(label, sizeof label, "%s: templates.%s.%s%s%s", sc->recipe_path,
                 call->template_name, call->channel, cJSON_IsString(t) ? "" : ".",
                 cJSON_IsString(t) ? "" : parts[i]);
        if (check_syntax(label, text, sc->out))
            sc->errors++;
        else if (call->vars_known)
            check_vars(sc, call, label, text);
    }
    return 1;
}

static void check_send(void *ctx, const send_call *call)
{
    send_check *sc = ctx;
    if (!renders_templates(sc->cfg, call->channel)) return; /* the file channel */
    if (check_inline(sc, call)) return;
    char *txt = template_path(sc->folder, call->template_name, call->channel, "txt");
    char *html = template_path(sc->folder, call->template_name, call->channel, "html");
    if (!txt || !html) {
        report_call(sc, call,
                    "not a valid template name (use letters, digits, _, - "
                    "and single dots, not starting with a dot)");
    } else {
        char *txt_text = textfile_read(txt, NULL), *html_text = textfile_read(html, NULL);
        if (!txt_text && !html_text) report_missing(sc, call, txt);
        if (call->vars_known) {
            check_vars(sc, call, txt, txt_text);
            check_vars(sc, call, html, html_text);
        }
        free(txt_text), free(html_text);
    }
    free(txt), free(html);
}

int check_recipe_sends(const char *recipe_path, const char *source,
                       const char *inline_json, const config *cfg, FILE *out)
{
    send_check sc = {recipe_path, NULL, cfg, NULL, out, 0};
    char *folder = recipe_folder(recipe_path);
    if (!folder) return fprintf(out, "%s:1: out of memory\n", recipe_path), 1;
    sc.folder = folder;
    sc.inline_templates = inline_json ? cJSON_Parse(inline_json) : NULL;
    check_find_sends(source, check_send, &sc);
    cJSON_Delete(sc.inline_templates);
    free(folder);
    return sc.errors;
}

int check_recipe_templates(const char *recipe_path, const char *source,
                           const char *inline_json, const config *cfg, FILE *out)
{
    int errors = check_template_folder(recipe_path, out);
    return errors + check_recipe_sends(recipe_path, source, inline_json, cfg, out);
}
