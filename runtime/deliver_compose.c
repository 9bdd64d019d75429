/* Composing a message at delivery time: the address decrypted from the
 * profile, the templates beside the recipe rendered with the vars and the
 * profile as it is now, and for marketing email the signed one-click
 * unsubscribe link (in the body and the RFC 8058 headers).  Nothing
 * composed here is ever written to the database. */
#include "deliver_internal.h"

#include "template.h"
#include "textfile.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(composed *out, const char *reason, const char *fmt, const char *a,
                const char *b)
{
    snprintf(out->reason, sizeof out->reason, "%s", reason);
    snprintf(out->detail, sizeof out->detail, fmt, a, b);
    return 1;
}

/* ---- templates ----------------------------------------------------------- */

void compose_forget_templates(deliver_senders *d)
{
    for (int i = 0; i < d->cached; i++)
        free(d->cache[i].path), free(d->cache[i].text);
    d->cached = 0;
}

/* The text of the template file at PATH (NULL: none), read once a round. */
static const char *template_text(deliver_senders *d, const char *path)
{
    for (int i = 0; i < d->cached; i++)
        if (!strcmp(d->cache[i].path, path)) return d->cache[i].text;
    if (d->cached == TEMPLATE_CACHE) compose_forget_templates(d);
    d->cache[d->cached].path = strdup(path);
    d->cache[d->cached].text = textfile_read(path, NULL);
    return d->cache[d->cached++].text;
}

/* "recipes/templates/NAME.CHANNEL.EXT" beside the message's recipe. */
static char *template_file(const outbox_message *m, const char *ext)
{
    char dir[4096] = "";
    const char *recipe = m->recipe_path ? m->recipe_path : "";
    const char *slash = strrchr(recipe, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - recipe), recipe);
    return template_path(dir, m->template_name, m->channel, ext);
}

/* What templates see: the vars, `profile` (traits with PII decrypted,
 * computed traits) and `unsubscribe_url`. */
static cJSON *template_data(deliver_senders *d, store *s, const outbox_message *m,
                            const char *url, int wants_profile)
{
    cJSON *data = cJSON_Parse(m->vars_json ? m->vars_json : "{}");
    if (!cJSON_IsObject(data)) cJSON_Delete(data), data = cJSON_CreateObject();
    if (!data) return NULL;
    if (url) cJSON_AddStringToObject(data, "unsubscribe_url", url);
    if (!wants_profile) return data;
    char *text = store_profile_json(s, m->profile_id, d->now_ms ? d->now_ms : time_wall_ms());
    cJSON *profile = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (profile && d->privacy) privacy_reveal_all(d->privacy, s, m->profile_id, profile);
    cJSON_AddItemToObject(data, "profile", profile ? profile : cJSON_CreateObject());
    return data;
}

/* Splits a leading "Subject: ..." line (and one blank line after it) off
 * *BODY into a malloc'd *SUBJECT template. */
static void take_subject(const char **body, char **subject)
{
    const char *b = *body;
    if (strncmp(b, "Subject:", 8)) return;
    const char *eol = strchr(b, '\n');
    size_t end = eol ? (size_t)(eol - b) : strlen(b);
    const char *start = b + 8 + strspn(b + 8, " \t");
    size_t len = (size_t)(b + end - start);
    if (len && start[len - 1] == '\r') len--;
    *subject = strndup(start, len);
    b = eol ? eol + 1 : b + end;
    if (*b == '\r') b++;
    if (*b == '\n') b++;
    *body = b;
}

/* Renders one template part into *OUT.  1 (with out's reason) on error. */
static int render_part(const char *file, const char *text, const cJSON *data, int html,
                       char **rendered, composed *out)
{
    char err[400];
    if (!template_render(text, data, html, rendered, err, sizeof err)) return 0;
    return fail(out, "template", "%s: %s", file, err);
}

/* A marketing email always carries its unsubscribe link: added at the end
 * of a body that does not show it. */
static char *with_footer(char *body, const char *url, int html)
{
    if (!body || !url || strstr(body, url)) return body;
    const char *end = html ? strstr(body, "</body>") : NULL;
    int keep = end ? (int)(end - body) : (int)strlen(body);
    const char *gap = keep && body[keep - 1] == '\n' ? "\n" : "\n\n";
    char *out = NULL;
    if ((html ? asprintf(&out, "%.*s<p><a href=\"%s\">Unsubscribe</a></p>%s", keep, body,
                         url, end ? end : "")
              : asprintf(&out, "%.*s%sUnsubscribe: %s\n", keep, body, gap, url)) < 0)
        out = NULL;
    free(body);
    return out;
}

/* Where a message's templates come from: the recipe's own table, else
 * the files beside it. */
typedef struct sources {
    const char *txt, *html;     /* the template texts (NULL: none) */
    char *subject;              /* the subject template (malloc'd), or NULL */
    char *txt_name, *html_name; /* where they are, for errors */
    cJSON *inline_root;         /* the recipe's templates, parsed */
} sources;

/* journey{ templates = { NAME = { CHANNEL = text | { subject, text, html } } } }:
 * 1 when the recipe version has NAME for the message's channel. */
static int inline_sources(const outbox_message *m, sources *src)
{
    if (!m->recipe_templates) return 0;
    src->inline_root = cJSON_Parse(m->recipe_templates);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(src->inline_root, m->template_name), m->channel);
    if (!t) return 0;
    if (asprintf(&src->txt_name, "%s: templates.%s.%s",
                 m->recipe_path ? m->recipe_path : "the recipe", m->template_name,
                 m->channel) < 0)
        src->txt_name = NULL;
    src->html_name = src->txt_name ? strdup(src->txt_name) : NULL;
    if (cJSON_IsString(t)) return src->txt = t->valuestring, 1;
    src->txt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "text"));
    src->html = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "html"));
    const char *subject =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "subject"));
    if (subject) src->subject = strdup(subject);
    return 1;
}

static void file_sources(deliver_senders *d, const outbox_message *m, sources *src)
{
    src->txt_name = template_file(m, "txt");
    src->html_name = template_file(m, "html");
    src->txt = src->txt_name ? template_text(d, src->txt_name) : NULL;
    src->html = src->html_name ? template_text(d, src->html_name) : NULL;
}

/* The sources of M, with the subject taken from a leading "Subject:" line
 * when not given apart.  1 (OUT's reason set) when there are none. */
static int find_sources(deliver_senders *d, const outbox_message *m, int is_email,
                        sources *src, composed *out)
{
    if (!inline_sources(m, src)) file_sources(d, m, src);
    if (!is_email) src->html = NULL; /* HTML parts are for email */
    if (!src->txt && !src->html)
        return fail(out, "template", "no template %s (write the message's text there)",
                    src->txt_name ? src->txt_name : m->template_name, "");
    char *html_subject = NULL;
    if (src->txt && !src->subject) take_subject(&src->txt, &src->subject);
    if (src->html) take_subject(&src->html, &html_subject);
    if (!src->subject) src->subject = html_subject, html_subject = NULL;
    free(html_subject);
    if (is_email && !src->subject)
        return fail(out, "template",
                    "%s: an email template starts with a line "
                    "\"Subject: ...\"",
                    src->txt ? src->txt_name : src->html_name, "");
    return 0;
}

/* The subject and body parts of M into OUT.  0, 1 on a template error. */
static int render_templates(deliver_senders *d, store *s, const outbox_message *m,
                            int is_email, composed *out)
{
    sources src = {0};
    int rc = find_sources(d, m, is_email, &src, out);
    if (!rc) {
        const char *txt = src.txt, *html = src.html, *subject = src.subject;
        int wants_profile = (txt && strstr(txt, "profile")) ||
                            (html && strstr(html, "profile")) ||
                            (subject && strstr(subject, "profile"));
        cJSON *data = template_data(d, s, m, out->unsubscribe_url, wants_profile);
        rc = (subject && render_part(txt ? src.txt_name : src.html_name, subject, data, 0,
                                     &out->subject, out)) ||
             (txt && render_part(src.txt_name, txt, data, 0, &out->text, out)) ||
             (html && render_part(src.html_name, html, data, 1, &out->html, out));
        cJSON_Delete(data);
    }
    if (!rc && is_email && !strcmp(m->purpose ? m->purpose : "", "marketing")) {
        out->text = with_footer(out->text, out->unsubscribe_url, 0);
        out->html = with_footer(out->html, out->unsubscribe_url, 1);
    }
    free(src.subject), free(src.txt_name), free(src.html_name);
    cJSON_Delete(src.inline_root);
    return rc;
}

/* The one-click link and List-Unsubscribe value of a marketing email. */
static int make_unsubscribe(deliver_senders *d, const outbox_message *m, int channel,
                            composed *out)
{
    char token[UNSUB_TOKEN_MAX + 1], url[2048], headers[4200];
    const cJSON *settings = d->settings[channel];
    const char *base =
        cJSON_GetStringValue(cJSON_GetObjectItem(settings, "unsubscribe_url"));
    const char *mailto =
        cJSON_GetStringValue(cJSON_GetObjectItem(settings, "unsubscribe_mailto"));
    char mailto_uri[600] = "";
    if (mailto) snprintf(mailto_uri, sizeof mailto_uri, "mailto:%s", mailto);
    if (!base ||
        unsub_token_make(d->unsub_key, m->profile_id, m->channel, "marketing",
                         m->created_ms / 1000, token, sizeof token) ||
        unsub_url(base, token, url, sizeof url) ||
        unsub_headers(url, mailto ? mailto_uri : NULL, headers, sizeof headers))
        return fail(out, "unsubscribe", "cannot make the unsubscribe link for %s (%s)",
                    m->idempotency_key, "check channels.NAME.unsubscribe_url");
    const char *value = headers + strlen("List-Unsubscribe: ");
    out->unsubscribe_url = strdup(url);
    out->list_unsubscribe = strndup(value, strcspn(value, "\r"));
    return 0;
}

/* The address M goes to, decrypted now (email, phone) or a trait. */
static int resolve_address(deliver_senders *d, store *s, const outbox_message *m,
                           composed *out)
{
    const char *field = adapters_address(d->adapters, m->channel);
    if (!field) return 0;
    if (!strcmp(field, "email") || !strcmp(field, "phone"))
        out->to = d->privacy ? privacy_reveal(d->privacy, s, m->profile_id, field) : NULL;
    else
        out->to = store_profile_trait(s, m->profile_id, field);
    if (out->to && out->to[0]) return 0;
    return fail(out, "no_address", "profile %s has no %s to send to", m->profile_id,
                field);
}

int compose_message(deliver_senders *d, store *s, const outbox_message *m, int channel,
                    composed *out)
{
    int is_email = adapters_is_email(d->adapters, m->channel);
    int marketing = !strcmp(m->purpose ? m->purpose : "marketing", "marketing");
    memset(out, 0, sizeof *out);
    return resolve_address(d, s, m, out) ||
                   (is_email && marketing && make_unsubscribe(d, m, channel, out)) ||
                   render_templates(d, s, m, is_email, out)
               ? 1
               : 0;
}

void composed_free(composed *c)
{
    free(c->to), free(c->subject), free(c->text), free(c->html);
    free(c->unsubscribe_url), free(c->list_unsubscribe);
    memset(c, 0, sizeof *c);
}
