/* Unit tests for runtime/template.c: every tag kind, sections over lists of
 * objects, dotted names and lookup order, escaping, numbers, the error
 * messages (with lines), the limits, template_names and template_path. */
#include "template.h"
#include "unit.h"

#include <cJSON.h>
#include <stdlib.h>

/* The rendered text, or "ERR: message" when rendering fails. */
static const char *render_html(const char *text, const char *json, int html)
{
    static char result[4096];
    char err[512], *out = NULL;
    cJSON *data = json ? cJSON_Parse(json) : NULL;
    if (json && !data) return "BAD TEST JSON";
    if (template_render(text, data, html, &out, err, sizeof err))
        snprintf(result, sizeof result, "ERR: %s", err);
    else
        snprintf(result, sizeof result, "%s", out);
    free(out);
    cJSON_Delete(data);
    return result;
}

static const char *render(const char *text, const char *json)
{
    return render_html(text, json, 0);
}

static void variables(void)
{
    CHECK_STR(render("Hello {{name}}!", "{\"name\":\"Ana\"}"), "Hello Ana!",
              "var: plain");
    CHECK_STR(render("Hello {{ name }}!", "{\"name\":\"Ana\"}"), "Hello Ana!",
              "var: spaces inside the braces");
    CHECK_STR(render("no tags at all", NULL), "no tags at all", "text only, no data");
    CHECK_STR(render("", "{}"), "", "empty template");
    CHECK_STR(
        render("Hi {{profile.first_name}}", "{\"profile\":{\"first_name\":\"Bo\"}}"),
        "Hi Bo", "var: dotted name");
    CHECK_STR(render("{{a.b.c}}", "{\"a\":{\"b\":{\"c\":\"deep\"}}}"), "deep",
              "var: three-part dotted name");
    CHECK_STR(render("[{{gone}}]", "{\"gone\":null}"), "[]", "var: null prints nothing");
    CHECK_STR(render("{{s}}", "{\"s\":\"\"}"), "", "var: empty string");
    CHECK_STR(render("{{t}} {{f}}", "{\"t\":true,\"f\":false}"), "true false",
              "var: booleans");
}

static void numbers(void)
{
    CHECK_STR(render("{{n}}", "{\"n\":10}"), "10", "number: integer without .0");
    CHECK_STR(render("{{n}}", "{\"n\":10.0}"), "10", "number: 10.0 prints as 10");
    CHECK_STR(render("{{n}}", "{\"n\":19.99}"), "19.99", "number: decimal");
    CHECK_STR(render("{{n}}", "{\"n\":-3}"), "-3", "number: negative");
    CHECK_STR(render("{{n}}", "{\"n\":0.1}"), "0.1", "number: 0.1 shortest form");
    CHECK_STR(render("{{n}}", "{\"n\":1234567890123}"), "1234567890123",
              "number: large integer");
    CHECK_STR(render("{{n}}", "{\"n\":1e300}"), "1e+300", "number: huge");
    CHECK_STR(render("{{n}}", "{\"n\":-0}"), "0", "number: minus zero prints 0");
}

static void escaping(void)
{
    const char *json = "{\"x\":\"<b>Tom & \\\"Jerry's\\\"</b>\"}";
    CHECK_STR(render_html("{{x}}", json, 1),
              "&lt;b&gt;Tom &amp; &quot;Jerry&#39;s&quot;&lt;/b&gt;",
              "escape: html on escapes & < > \" '");
    CHECK_STR(render_html("{{x}}", json, 0), "<b>Tom & \"Jerry's\"</b>",
              "escape: html off leaves text as is");
    CHECK_STR(render_html("{{{x}}}", json, 1), "<b>Tom & \"Jerry's\"</b>",
              "escape: triple mustache never escapes");
    CHECK_STR(render_html("{{& x}}", json, 1), "<b>Tom & \"Jerry's\"</b>",
              "escape: {{& x}} never escapes");
    CHECK_STR(render_html("<p>{{n}}</p>", "{\"n\":5}", 1), "<p>5</p>",
              "escape: template's own HTML kept");
    CHECK_STR(render_html("{{{ x }}}", "{\"x\":\"a\"}", 1), "a",
              "triple: spaces trimmed");
}

static void sections(void)
{
    const char *cart = "{\"items\":[{\"name\":\"Mug\",\"price\":12},"
                       "{\"name\":\"Tee\",\"price\":19.5}],\"discount\":10}";
    CHECK_STR(render("{{#items}}{{name}}={{price}};{{/items}}", cart), "Mug=12;Tee=19.5;",
              "section: list of objects, once per element");
    CHECK_STR(render("{{#items}}{{name}} -{{discount}}%,{{/items}}", cart),
              "Mug -10%,Tee -10%,", "section: outer names seen from inside");
    CHECK_STR(render("{{#tags}}<{{.}}>{{/tags}}", "{\"tags\":[\"a\",\"b\",3]}"),
              "<a><b><3>", "section: {{.}} is the element");
    CHECK_STR(render("{{#p}}{{first}} {{last}}{{/p}}",
                     "{\"p\":{\"first\":\"A\",\"last\":\"B\"}}"),
              "A B", "section: object is the context once");
    CHECK_STR(render("{{#vip}}VIP{{/vip}}", "{\"vip\":true}"), "VIP",
              "section: true once");
    CHECK_STR(render("[{{#vip}}VIP{{/vip}}]", "{\"vip\":false}"), "[]",
              "section: false never");
    CHECK_STR(render("[{{#vip}}VIP{{/vip}}]", "{\"vip\":null}"), "[]",
              "section: null never");
    CHECK_STR(render("[{{#vip}}VIP{{/vip}}]", "{}"), "[]",
              "section: missing never, no error");
    CHECK_STR(render("[{{#l}}x{{/l}}]", "{\"l\":[]}"), "[]", "section: empty list never");
    CHECK_STR(render("[{{#s}}x{{/s}}]", "{\"s\":\"\"}"), "[]",
              "section: empty string never");
    CHECK_STR(render("[{{#n}}x{{/n}}]", "{\"n\":0}"), "[]", "section: 0 never");
    CHECK_STR(render("{{#name}}Hi {{name}}{{/name}}", "{\"name\":\"Ana\"}"), "Hi Ana",
              "section: string once, name still found");
    CHECK_STR(render("{{#n}}{{.}}%{{/n}}", "{\"n\":15}"), "15%",
              "section: number, {{.}}");
    CHECK_STR(render("{{^items}}empty{{/items}}", "{\"items\":[]}"), "empty",
              "inverted: empty list");
    CHECK_STR(render("{{^items}}empty{{/items}}", "{}"), "empty", "inverted: missing");
    CHECK_STR(render("[{{^items}}empty{{/items}}]", cart), "[]", "inverted: full list");
    CHECK_STR(render("{{#profile.vip}}V{{/profile.vip}}", "{\"profile\":{\"vip\":true}}"),
              "V", "section: dotted name");
}

static void nested_sections(void)
{
    const char *orders =
        "{\"orders\":[{\"id\":1,\"lines\":[{\"sku\":\"a\"},{\"sku\":\"b\"}]},"
        "{\"id\":2,\"lines\":[]}],\"shop\":\"S\"}";
    CHECK_STR(render("{{#orders}}#{{id}}:{{#lines}}{{sku}}@{{shop}}/{{id}} {{/lines}}"
                     "{{^lines}}none{{/lines}};{{/orders}}",
                     orders),
              "#1:a@S/1 b@S/1 ;#2:none;", "nested: lists in lists, outer lookup");
    /* Innermost wins: "name" in the element hides the top-level one. */
    CHECK_STR(render("{{name}} {{#items}}{{name}} {{/items}}{{name}}",
                     "{\"name\":\"top\",\"items\":[{\"name\":\"in\"},{\"x\":1}]}"),
              "top in top top", "lookup: innermost first, then outward");
    /* A dotted name resolves its first part outward, the rest inside it only. */
    CHECK_STR(render("{{#a}}{{b.c}}{{/a}}",
                     "{\"b\":{\"c\":\"outer\"},\"a\":{\"b\":{\"c\":\"inner\"}}}"),
              "inner", "lookup: dotted first part innermost");
    CHECK_STR(render("{{#a}}{{b.c}}{{/a}}",
                     "{\"b\":{\"c\":\"outer\"},\"a\":{\"b\":{\"d\":1}}}"),
              "ERR: line 1: {{b.c}} has no value (b has: d)",
              "lookup: dotted rest never searched outward");
}

static void standalone_lines(void)
{
    CHECK_STR(render("Items:\n{{#items}}\n- {{.}}\n{{/items}}\nBye\n",
                     "{\"items\":[\"a\",\"b\"]}"),
              "Items:\n- a\n- b\nBye\n",
              "standalone: section lines leave no blank lines");
    CHECK_STR(render("  {{! note }}\nText\n", "{}"), "Text\n",
              "standalone: comment line removed");
    CHECK_STR(render("A {{#t}}x{{/t}} B\n", "{\"t\":true}"), "A x B\n",
              "standalone: inline sections keep their spaces");
    CHECK_STR(render("{{#t}}\r\nx\r\n{{/t}}\r\n", "{\"t\":true}"), "x\r\n",
              "standalone: CRLF lines");
    CHECK_STR(render("{{#t}}\nx\n{{/t}}", "{\"t\":true}"), "x\n",
              "standalone: last line without newline");
    CHECK_STR(render("{{v}}\n", "{\"v\":\"\"}"), "\n", "standalone: variables never");
}

static void comments(void)
{
    CHECK_STR(render("a{{! a comment }}b", "{}"), "ab", "comment: removed");
    CHECK_STR(render("a{{! spans\ntwo lines }}b {{x}}", "{}"),
              "ERR: line 2: {{x}} has no value (the message has no vars)",
              "comment: may span lines, lines still counted");
    CHECK_STR(render("{{!{{x}}}}", "{}"), "}}", "comment: ends at the first }}");
}

static void missing_variables(void)
{
    const char *vars = "{\"items\":[1],\"discount\":10}";
    CHECK_STR(
        render("Hi,\n\nDear {{first_name}}", vars),
        "ERR: line 3: {{first_name}} has no value (the message's vars have: discount, "
        "items)",
        "missing: names the tag, the line and the vars (sorted)");
    CHECK_STR(
        render("{{profile.first_name}}", "{\"profile\":{\"email\":\"e\",\"id\":\"u1\"}}"),
        "ERR: line 1: {{profile.first_name}} has no value (profile has: email, id)",
        "missing: dotted names the object that lacks it");
    CHECK_STR(
        render("{{profile.first_name}}", vars),
        "ERR: line 1: {{profile.first_name}} has no value (the message's vars have: "
        "discount, items)",
        "missing: dotted, first part absent");
    CHECK_STR(render("{{{raw}}}", NULL),
              "ERR: line 1: {{{raw}}} has no value (the message has no vars)",
              "missing: triple, no vars");
    CHECK_STR(
        render("{{items}}", vars),
        "ERR: line 1: {{items}} is a list; go through it with {{#items}}...{{/items}}",
        "error: list printed as a variable");
    CHECK_STR(render("{{profile}}", "{\"profile\":{\"first_name\":\"A\"}}"),
              "ERR: line 1: {{profile}} holds several values; name one, as in "
              "{{profile.first_name}}",
              "error: object printed as a variable");
    CHECK_STR(render("{{#items}}{{sku}}{{/items}}", "{\"items\":[{\"name\":\"a\"}]}"),
              "ERR: line 1: {{sku}} has no value inside {{#items}} (the message's vars "
              "have: items)",
              "missing: inside a section");
}

static void syntax_errors(void)
{
    CHECK_STR(render("a\n{{#items}}\nx", "{}"),
              "ERR: line 2: {{#items}} is never closed (add {{/items}})",
              "syntax: unclosed");
    CHECK_STR(render("{{#a}}\n{{#b}}\n{{/a}}\n{{/b}}", "{}"),
              "ERR: line 3: {{/a}} does not close {{#b}} (line 2)",
              "syntax: mismatched close");
    CHECK_STR(render("x\n\n{{/items}}", "{}"),
              "ERR: line 3: {{/items}} closes no section", "syntax: close without open");
    CHECK_STR(render("a\nHi {{name\n}}", "{}"),
              "ERR: line 2: {{ has no closing }} on the same line",
              "syntax: unterminated tag");
    CHECK_STR(render("{{{name}}", "{}"),
              "ERR: line 1: {{{ has no closing }}} on the same line",
              "syntax: unterminated triple");
    CHECK_STR(render("\n{{! never ends", "{}"), "ERR: line 2: {{ has no closing }}",
              "syntax: unterminated comment");
}

static void bad_names(void)
{
    CHECK_STR(render("{{}}", "{}"), "ERR: line 1: a tag has no name",
              "syntax: empty tag");
    CHECK_STR(
        render("{{first name}}", "{}"),
        "ERR: line 1: {{first name}} is not a valid name (use letters, digits, _ and -, "
        "with dots between parts, as in profile.first_name)",
        "syntax: space in a name");
    CHECK(strncmp(render("{{a..b}}", "{}"), "ERR: line 1: {{a..b}} is not a valid", 36) ==
              0,
          "syntax: empty dotted part");
    CHECK(strncmp(render("{{.a}}", "{}"), "ERR: line 1: {{.a}} is not a valid", 34) == 0,
          "syntax: leading dot");
    char long_name[200];
    snprintf(long_name, sizeof long_name, "{{%.*s}}", TEMPLATE_MAX_NAME + 1,
             "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
             "nnnnnn"
             "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn");
    CHECK(strncmp(render(long_name, "{}"), "ERR: line 1: {{nnn", 18) == 0,
          "syntax: name over 128 bytes refused");
    CHECK_STR(render("{{#m}}[{{#.}}{{.}}{{/.}}]{{/m}}", "{\"m\":[[1,2],[3]]}"), "[12][3]",
              "section: {{#.}} over a list of lists");
    CHECK_STR(render("{{> footer}}", "{}"),
              "ERR: line 1: partials ({{> name}}) are not supported", "syntax: partials");
    CHECK_STR(render("{{=<% %>=}}", "{}"),
              "ERR: line 1: changing delimiters ({{=...=}}) is not supported",
              "syntax: set delimiters");
    CHECK_STR(render("{{#a}}x{{/a}}{{/a}}", "{\"a\":true}"),
              "ERR: line 1: {{/a}} closes no section",
              "syntax: errors found before rendering");
    char *out = (char *)"untouched", err[64];
    CHECK(template_render(NULL, NULL, 0, &out, err, sizeof err) == -1 && out == NULL,
          "error: NULL text, *out set to NULL");
    CHECK(template_render("{{x}}", NULL, 0, &out, NULL, 0) == -1,
          "error: NULL err buffer is allowed");
}

/* TEXT repeated N times, malloc'd. */
static char *repeat(const char *text, int n)
{
    size_t len = strlen(text);
    char *s = malloc(len * (size_t)n + 1);
    for (int i = 0; i < n; i++)
        memcpy(s + len * (size_t)i, text, len);
    s[len * (size_t)n] = '\0';
    return s;
}

static void nesting_limit(void)
{
    char *open = repeat("{{#a}}", TEMPLATE_MAX_DEPTH),
         *close = repeat("{{/a}}", TEMPLATE_MAX_DEPTH);
    char text[1024];
    snprintf(text, sizeof text, "%sdeep%s", open, close);
    CHECK_STR(render(text, "{\"a\":true}"), "deep", "limit: 32 nested sections render");
    snprintf(text, sizeof text, "%s{{#a}}deep{{/a}}%s", open, close);
    CHECK_STR(render(text, "{\"a\":true}"), "ERR: line 1: sections nested deeper than 32",
              "limit: 33 nested sections refused");
    free(open);
    free(close);
}

static void output_limits(void)
{
    char *big = repeat("x", 600 * 1024), *out = NULL, err[256];
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "big", big);
    CHECK(template_render("{{big}}{{big}}", data, 0, &out, err, sizeof err) == -1 && !out,
          "limit: output over 1 MiB refused");
    CHECK_STR(err, "line 1: the message is over 1048576 bytes", "limit: output message");
    CHECK(template_render("{{big}}", data, 0, &out, err, sizeof err) == 0 &&
              strlen(out) == 600 * 1024,
          "limit: 600 KiB output fine");
    free(out);
    /* 3000^3 empty iterations produce nothing but are stopped by the step cap. */
    cJSON *list = cJSON_AddArrayToObject(data, "l");
    for (int i = 0; i < 3000; i++)
        cJSON_AddItemToArray(list, cJSON_CreateTrue());
    CHECK(template_render("{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}", data, 0, &out, err,
                          sizeof err) == -1,
          "limit: runaway loops stopped");
    CHECK_STR(err, "line 1: the template does too much work (over 10000000 steps)",
              "limit: work message");
    free(big);
    cJSON_Delete(data);
}

/* Collects template_names calls as "name@line[s]" joined by spaces. */
static void collect(void *ctx, const char *name, int line, int in_section)
{
    char *buf = ctx;
    size_t used = strlen(buf);
    snprintf(buf + used, 512 - used, "%s%s@%d%s", used ? " " : "", name, line,
             in_section ? "s" : "");
}

static void names(void)
{
    char got[512] = "", err[256];
    int rc = template_names(
        "Hi {{profile.first_name}}!\n{{! skip }}\n{{#items}}\n"
        "- {{name}} {{{price}}} {{.}}\n{{/items}}\n{{^vip}}{{discount}}{{/vip}}"
        "{{& raw}}",
        collect, got, err, sizeof err);
    CHECK(rc == 0, "names: valid template");
    CHECK_STR(got,
              "profile.first_name@1 items@3 name@4s price@4s vip@6 discount@6s raw@6",
              "names: every name, line and in-section flag");
    got[0] = '\0';
    rc = template_names("{{a}}\n{{#b}}", collect, got, err, sizeof err);
    CHECK(rc == -1 && got[0] == '\0', "names: syntax error, no callbacks");
    CHECK_STR(err, "line 2: {{#b}} is never closed (add {{/b}})", "names: the error");
    got[0] = '\0';
    rc = template_names("{{#a}}{{#b}}{{c}}{{/b}}{{d}}{{/a}}{{e}}", collect, got, err,
                        sizeof err);
    CHECK_STR(got, "a@1 b@1s c@1s d@1s e@1", "names: nesting tracked through closes");
}

static void path_case(const char *name, const char *channel, const char *ext,
                      const char *want, const char *label)
{
    char *p = template_path("recipes", name, channel, ext);
    if (want)
        CHECK_STR(p, want, label);
    else
        CHECK(p == NULL, label);
    free(p);
}

static void paths(void)
{
    path_case("cart_reminder", "email", "html",
              "recipes/templates/cart_reminder.email.html", "path: email html");
    path_case("cart_sms", "sms", "txt", "recipes/templates/cart_sms.sms.txt",
              "path: sms txt");
    path_case("welcome-v2.b", "email", "txt", "recipes/templates/welcome-v2.b.email.txt",
              "path: single dots and dashes allowed");
    path_case("../etc/passwd", "sms", "txt", NULL, "path: refuses ..");
    path_case("a/b", "sms", "txt", NULL, "path: refuses /");
    path_case("a..b", "sms", "txt", NULL, "path: refuses .. inside a name");
    path_case(".hidden", "sms", "txt", NULL, "path: refuses a leading dot");
    path_case("a\\b", "sms", "txt", NULL, "path: refuses backslash");
    path_case("", "sms", "txt", NULL, "path: refuses empty name");
    path_case(NULL, "sms", "txt", NULL, "path: refuses NULL name");
    path_case("x", "../sms", "txt", NULL, "path: refuses bad channel");
    path_case("x", "sms", "t/xt", NULL, "path: refuses bad extension");
    path_case("x y", "sms", "txt", NULL, "path: refuses spaces");
    char *p = template_path("", "x", "sms", "txt");
    CHECK_STR(p, "./templates/x.sms.txt", "path: empty directory means .");
    free(p);
}

int main(void)
{
    variables();
    numbers();
    escaping();
    sections();
    nested_sections();
    standalone_lines();
    comments();
    missing_variables();
    syntax_errors();
    bad_names();
    nesting_limit();
    output_limits();
    names();
    paths();
    UNIT_DONE();
}
