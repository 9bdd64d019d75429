/* Unit tests for the Lua source scanner of runtime/check_templates.c: which
 * j:send calls it finds (not in comments, long strings or strings), their
 * lines, and the top-level keys of a literal vars table; which j:wait_for
 * (or any NAME:METHOD) calls it finds with their literal arguments; the
 * line of `journey {`. */
#include "check_templates.h"
#include "unit.h"

/* Each call found as "LINE CHANNEL TEMPLATE [keys]" ("[?]": vars unknown),
 * joined with "; ". */
typedef struct found {
    char text[4096];
} found;

static void collect(void *ctx, const send_call *call)
{
    found *f = ctx;
    char one[1024];
    int n = snprintf(one, sizeof one, "%s%d %s %s [", f->text[0] ? "; " : "", call->line,
                     call->channel, call->template_name);
    for (int i = 0; call->vars_known && i < call->key_count && n < 900; i++)
        n += snprintf(one + n, sizeof one - (size_t)n, "%s%s", i ? "," : "",
                      call->keys[i]);
    snprintf(one + n, sizeof one - (size_t)n, "%s]", call->vars_known ? "" : "?");
    strncat(f->text, one, sizeof f->text - strlen(f->text) - 1);
}

static const char *scan(const char *source)
{
    static found f;
    f.text[0] = '\0';
    check_find_sends(source, collect, &f);
    return f.text;
}

static void comments_and_strings(void)
{
    CHECK_STR(scan("-- j:send(\"email\", \"a\")\nj:send(\"sms\", \"b\")"), "2 sms b []",
              "scan: a line comment is skipped");
    CHECK_STR(scan("--[[ j:send(\"email\", \"a\")\n]] j:send(\"sms\", \"b\")"),
              "2 sms b []", "scan: a long comment is skipped, its lines counted");
    CHECK_STR(scan("--[==[ ]] j:send(\"email\", \"a\") ]=] ]==]\nj:send(\"sms\", \"b\")"),
              "2 sms b []", "scan: a level-2 long comment ends only at ]==]");
    CHECK_STR(scan("local s = [[\nj:send(\"email\", \"a\")\n]]\nj:send(\"sms\", \"b\")"),
              "4 sms b []", "scan: a long string is skipped, its lines counted");
    CHECK_STR(scan("local s = \"j:send('email', 'a')\"\nj:send('sms', 'b')"),
              "2 sms b []", "scan: j:send inside a string is not a call");
    CHECK_STR(scan("local s = 'it\\'s j:send(\"email\", \"a\")' j:send(\"sms\", \"b\")"),
              "1 sms b []", "scan: an escaped quote does not end the string");
    CHECK_STR(scan("local s = \"a\\\nb\"\nj:send(\"sms\", \"b\")"), "3 sms b []",
              "scan: a backslash-newline in a string counts as a line");
    CHECK_STR(scan("local x = 1 -- [[ not long\nj:send(\"sms\", \"b\")"), "2 sms b []",
              "scan: \"-- [[\" is a line comment");
}

static void calls(void)
{
    CHECK_STR(
        scan("return journey {\n  run = function(j)\n    j:wait(\"1h\")\n"
             "    j:send(\"email\", \"cart_reminder\",\n"
             "           { items = j.trigger.properties.products, discount = 10 })\n"
             "  end,\n}"),
        "4 email cart_reminder [items,discount]",
        "scan: a call over two lines has the line of j:send");
    CHECK_STR(scan("j:send(\"email\", \"x\", nil)"), "1 email x []", "scan: nil vars");
    CHECK_STR(scan("j:send(\"email\", \"x\", vars)"), "1 email x [?]",
              "scan: vars in a variable are unknown");
    CHECK_STR(scan("j:send(\"email\", \"x\", make_vars())"), "1 email x [?]",
              "scan: vars from a call are unknown");
    CHECK_STR(scan("j:send(ch, \"x\") j:send(\"email\", \"cart_\" .. v)"), "",
              "scan: a channel or template that is not a literal is not reported");
    CHECK_STR(scan("j:send(\"email\", \"a\") j:wait(\"1h\") j:send(\"sms\", \"b\")"),
              "1 email a []; 1 sms b []", "scan: several calls in order");
    CHECK_STR(scan("j.send(\"email\", \"a\") send(\"email\", \"b\")"), "",
              "scan: only NAME:send is a call");
    CHECK_STR(scan("j:send(\"email\", \"a\", { x = 1 } .. y)"), "1 email a [?]",
              "scan: a table in an expression is unknown");
}

static void table_keys(void)
{
    CHECK_STR(scan("j:send(\"e\", \"t\", { a = { b = 1, c = { d = 2 } }, e = 3 })"),
              "1 e t [a,e]", "keys: nested tables' keys are not collected");
    CHECK_STR(scan("j:send(\"e\", \"t\", { [\"first name\"] = 1; [\"x\"] = 2 })"),
              "1 e t [first name,x]", "keys: [\"name\"] = keys, ; separators");
    CHECK_STR(scan("j:send(\"e\", \"t\", { [k] = 1 })"), "1 e t [?]",
              "keys: a computed key makes the vars unknown");
    CHECK_STR(scan("j:send(\"e\", \"t\", { a = f(x, { b = 1 }), c = t[1], d = 2 })"),
              "1 e t [a,c,d]", "keys: calls and indexing inside values");
    CHECK_STR(scan("j:send(\"e\", \"t\", { a == b, c = 1, \"pos\", [\"q\"] })"),
              "1 e t [?]", "keys: a == b is no key; [\"q\"] without = is computed");
    CHECK_STR(scan("j:send(\"e\", \"t\", { a == b, c = 1, \"pos\" })"), "1 e t [c]",
              "keys: a comparison and a positional value are not keys");
    CHECK_STR(scan("j:send(\"e\", \"t\", { a = [[ } b = 1 ]], -- } c = 2\n d = 3 })"),
              "1 e t [a,d]", "keys: long strings and comments inside the table");
    CHECK_STR(scan("j:send(\"e\", \"t\", {})"), "1 e t []", "keys: an empty table");
    CHECK_STR(scan("j:send(\"e\", \"t\", { a = [[ never closed"), "1 e t [?]",
              "keys: a table cut short by the end of the source is unknown");
    CHECK_STR(scan("j:send(\"e\", \"t\", { a = \"never closed"), "1 e t [?]",
              "keys: an unclosed string inside the table");
    CHECK_STR(scan("--[==[ never closed ]] j:send(\"e\", \"t\")"), "",
              "scan: an unclosed long comment runs to the end");
}

/* Each NAME:METHOD call found as "LINE RECEIVER literal,literal" joined
 * with "; " ("-" when its first argument is no literal). */
static void collect_call(void *ctx, const literal_call *call)
{
    found *f = ctx;
    char one[1024];
    int n = snprintf(one, sizeof one, "%s%d %s ", f->text[0] ? "; " : "", call->line,
                     call->receiver);
    for (int i = 0; i < call->literal_count; i++)
        n += snprintf(one + n, sizeof one - (size_t)n, "%s%s", i ? "," : "",
                      call->literals[i]);
    if (!call->literal_count) snprintf(one + n, sizeof one - (size_t)n, "-");
    strncat(f->text, one, sizeof f->text - strlen(f->text) - 1);
}

static const char *scan_calls(const char *source, const char *method)
{
    static found f;
    f.text[0] = '\0';
    check_find_calls(source, method, collect_call, &f);
    return f.text;
}

static void wait_fors(void)
{
    CHECK_STR(scan_calls("return journey {\n  run = function(j)\n"
                         "    local order = j:wait_for(\"Order Completed\", \"3d\")\n"
                         "  end,\n}",
                         "wait_for"),
              "3 j Order Completed,3d", "wait_for: the event and timeout, with the line");
    CHECK_STR(scan_calls("-- j:wait_for(\"A\", \"1d\")\n--[[ j:wait_for(\"B\")\n]]\n"
                         "local s = \"j:wait_for('C')\" j:wait_for('D', 60)",
                         "wait_for"),
              "4 j D", "wait_for: not in comments or strings; a number is no literal");
    CHECK_STR(scan_calls("j:wait_for(\"Order \" .. kind, \"1d\")", "wait_for"), "1 j -",
              "wait_for: an event built from pieces is no literal");
    CHECK_STR(
        scan_calls("j:wait_for(name, \"1d\") j:wait_for(\"\\x41\", \"1d\")", "wait_for"),
        "1 j -; 1 j -", "wait_for: a variable, or an escape not decoded, is no literal");
    CHECK_STR(scan_calls("j:wait_for(\"A\", \"1d\", function(e) return e end)\n"
                         "j:wait_for(\"B\",\n  \"2d\")",
                         "wait_for"),
              "1 j A,1d; 2 j B,2d", "wait_for: a where function; a call over two lines");
    CHECK_STR(
        scan_calls("j.wait_for(\"A\") wait_for(\"B\") j:wait(\"1h\") j:wait_for \"C\"",
                   "wait_for"),
        "", "wait_for: only NAME:wait_for( is a call");
    CHECK_STR(scan_calls("j:wait_for(j:last(\"A\").event, \"1d\") j:wait_for(\"B\")",
                         "wait_for"),
              "1 j -; 1 j B", "wait_for: a call in the arguments is read past");
    CHECK_STR(scan_calls("j:send(\"smz\", \"cart_\" .. v) j:send(\"email\", \"t\", {})",
                         "send"),
              "1 j smz; 1 j email,t",
              "calls: j:send's channel alone when its template is built");
}

static void journey_line(void)
{
    CHECK(check_journey_line(
              "-- journey {\nlocal s = \"journey {\"\n\nreturn journey {\n}") == 4,
          "journey line: not in a comment or string");
    CHECK(check_journey_line("return journey({\n})") == 1, "journey line: journey(");
    CHECK(check_journey_line("local journey_name = 1\nreturn journey\n  {\n}") == 2,
          "journey line: the line of the name; the { may follow");
    CHECK(check_journey_line("return 1") == 1, "journey line: 1 when there is none");
}

int main(void)
{
    comments_and_strings();
    calls();
    table_keys();
    wait_fors();
    journey_line();
    UNIT_DONE();
}
