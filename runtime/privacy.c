/* Privacy built into storage, the keys: the master key file, the
 * blind-index key, key rotation; and the masking of events.  The PII
 * records themselves are privacy_pii.c.  See docs/profiles.md. */
#include "privacy_internal.h"

#include "log.h"
#include "pii_hash.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define BLIND_SECRET "blind-index"
#define UNSUBSCRIBE_SECRET "unsubscribe"
#define INBOX_SECRET "inbox"

static const char *const default_fields[] = {PRIVACY_DEFAULT_FIELDS};

int privacy_listed(char *const *names, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (!strcasecmp(names[i], name)) return 1;
    return 0;
}

int privacy_is_pii(const privacy *p, const char *name)
{
    return privacy_listed(p->fields, p->field_count, name);
}

char *const *privacy_fields(const privacy *p, int *count)
{
    *count = p->field_count;
    return p->fields;
}

static void add_fields(privacy *p, const privacy_options *o)
{
    for (size_t i = 0; i < sizeof default_fields / sizeof *default_fields; i++)
        p->fields[p->field_count++] = strdup(default_fields[i]);
    for (int i = 0; i < o->field_count && p->field_count < PRIVACY_MAX_FIELDS; i++)
        if (!privacy_listed(p->fields, p->field_count, o->fields[i]))
            p->fields[p->field_count++] = strdup(o->fields[i]);
    p->exposed = o->exposed, p->exposed_count = o->exposed_count;
}

void privacy_free(privacy *p)
{
    if (!p) return;
    vault_free(p->vault);
    for (int i = 0; i < p->field_count; i++)
        free(p->fields[i]);
    sodium_memzero(p, sizeof *p);
    free(p);
}

/* The blind-index key: unsealed from the database, or made and sealed
 * there on first use.  -1 when the master key does not open it. */
static int load_blind_key(privacy *p, store *s, const char *key_file, char *err,
                          size_t err_len)
{
    unsigned char sealed[VAULT_SEALED_LEN];
    int found = store_secret_get(s, BLIND_SECRET, sealed, sizeof sealed);
    if (found < 0) return snprintf(err, err_len, "cannot read the database's keys"), -1;
    if (found) {
        if (!vault_unseal(p->vault, BLIND_SECRET, sealed, sizeof sealed, p->blind_key))
            return 0;
        char id[17];
        vault_key_id(p->vault, id);
        snprintf(err, err_len,
                 "%s: key %s does not open this database's keys (a key file from "
                 "another database?)",
                 key_file, id);
        return -1;
    }
    vault_random_key(p->blind_key);
    if (vault_seal(p->vault, BLIND_SECRET, p->blind_key, sealed) || store_begin(s) ||
        store_secret_put(s, BLIND_SECRET, sealed, sizeof sealed) || store_commit(s))
        return store_rollback(s), snprintf(err, err_len, "cannot save the keys"), -1;
    return 0;
}

/* Makes the secret NAME inside BEGIN IMMEDIATE, after reading again, so
 * two processes making it at once end up with the same key. */
static int create_secret_key(privacy *p, store *s, const char *name,
                             unsigned char key[VAULT_KEY_LEN])
{
    unsigned char sealed[VAULT_SEALED_LEN];
    if (store_begin(s)) return -1;
    int found = store_secret_get(s, name, sealed, sizeof sealed), rc;
    if (found == 1) { /* another process made it first */
        rc = vault_unseal(p->vault, name, sealed, sizeof sealed, key);
    } else {
        vault_random_key(key);
        rc = found < 0 || vault_seal(p->vault, name, key, sealed) ||
             store_secret_put(s, name, sealed, sizeof sealed);
    }
    if (rc || store_commit(s)) return store_rollback(s), -1;
    return 0;
}

/* The database's random key NAME, sealed in `secrets`, made on first use. */
static int secret_key(privacy *p, store *s, const char *name,
                      unsigned char key[VAULT_KEY_LEN])
{
    unsigned char sealed[VAULT_SEALED_LEN];
    int found = store_secret_get(s, name, sealed, sizeof sealed);
    int rc = -1;
    if (found == 1)
        rc = vault_unseal(p->vault, name, sealed, sizeof sealed, key);
    else if (found == 0)
        rc = create_secret_key(p, s, name, key);
    if (rc) {
        sodium_memzero(key, VAULT_KEY_LEN);
        log_error("cannot %s the %s key", found ? "open" : "create", name);
    }
    return rc ? -1 : 0;
}

int privacy_unsubscribe_key(privacy *p, store *s, unsigned char key[VAULT_KEY_LEN])
{
    return secret_key(p, s, UNSUBSCRIBE_SECRET, key);
}

int privacy_inbox_key(privacy *p, store *s, unsigned char key[VAULT_KEY_LEN])
{
    return secret_key(p, s, INBOX_SECRET, key);
}

/* A rotation that died after its commit left the new key in KEY.new:
 * when that one opens the database's keys, it takes the old one's place. */
static int finish_rotation(privacy *p, store *s, const char *key_file)
{
    char next[4096], err[600];
    unsigned char sealed[VAULT_SEALED_LEN], key[VAULT_KEY_LEN];
    vault *v = NULL;
    snprintf(next, sizeof next, "%s.new", key_file);
    if (access(next, F_OK) || vault_load(next, 0, NULL, &v, err, sizeof err)) return -1;
    if (store_secret_get(s, BLIND_SECRET, sealed, sizeof sealed) != 1 ||
        vault_unseal(v, BLIND_SECRET, sealed, sizeof sealed, key))
        return vault_free(v), -1;
    sodium_memzero(key, sizeof key);
    if (rename(next, key_file)) return vault_free(v), -1;
    log_warn("%s: finished an interrupted key rotation", key_file);
    vault_free(p->vault);
    p->vault = v;
    return 0;
}

static int open_vault(privacy *p, store *s, const char *key_file, char *err,
                      size_t err_len)
{
    unsigned char sealed[VAULT_SEALED_LEN];
    int sealed_before = store_secret_get(s, BLIND_SECRET, sealed, sizeof sealed) == 1;
    int created = 0;
    if (sealed_before && access(key_file, F_OK) && finish_rotation(p, s, key_file) == 0)
        return 0;
    if (vault_load(key_file, !sealed_before, &created, &p->vault, err, err_len)) {
        if (sealed_before && access(key_file, F_OK))
            snprintf(err, err_len,
                     "%s: key file missing, and this database holds data sealed "
                     "with a key: restore the key file",
                     key_file);
        return -1;
    }
    if (created)
        log_warn("created key file %s: keep it safe, without it the encrypted "
                 "profile data cannot be read",
                 key_file);
    return 0;
}

int privacy_open(store *s, const privacy_options *o, privacy **out, char *err,
                 size_t err_len)
{
    privacy *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p || vault_init()) return free(p), snprintf(err, err_len, "out of memory"), -1;
    add_fields(p, o);
    if (open_vault(p, s, o->key_file, err, err_len) ||
        load_blind_key(p, s, o->key_file, err, err_len)) {
        if (p->vault && finish_rotation(p, s, o->key_file) == 0 &&
            load_blind_key(p, s, o->key_file, err, err_len) == 0)
            return *out = p, 0;
        return privacy_free(p), -1;
    }
    *out = p;
    return 0;
}

void privacy_mask(const char *field, const char *value, char *out, size_t out_len)
{
    if (!strcasecmp(field, "email") || !strcasecmp(field, "phone")) {
        pii_mask(value, out, out_len);
        return;
    }
    size_t first = value[0] ? 1 : 0; /* one character, UTF-8 aware */
    while (value[first] && ((unsigned char)value[first] & 0xC0) == 0x80)
        first++;
    snprintf(out, out_len, "%.*s***", (int)first, value);
}

/* Puts the mask of ITEM's value in its place in OBJ (ITEM's key, or none
 * in an array).  1, or 0 when out of memory. */
static int replace_scalar(cJSON *obj, cJSON *item, const char *field)
{
    char mask[512], number[64];
    const char *value = item->valuestring;
    if (cJSON_IsNumber(item))
        snprintf(number, sizeof number, "%.17g", item->valuedouble), value = number;
    privacy_mask(field, value, mask, sizeof mask);
    cJSON *masked = cJSON_CreateString(mask);
    char *key = item->string ? strdup(item->string) : NULL;
    if (!masked || (item->string && !key)) return cJSON_Delete(masked), free(key), 0;
    masked->string = key;
    return cJSON_ReplaceItemViaPointer(obj, item, masked) ? 1 : (cJSON_Delete(masked), 0);
}

static int mask_under(cJSON *obj, cJSON *item, const char *field)
{
    if (cJSON_IsString(item) || cJSON_IsNumber(item))
        return replace_scalar(obj, item, field);
    int masked = 0;
    for (cJSON *c = item->child, *next;
         c && (cJSON_IsArray(item) || cJSON_IsObject(item)); c = next) {
        next = c->next;
        masked += mask_under(item, c, field);
    }
    return masked;
}

int privacy_mask_member(cJSON *obj, cJSON *item)
{
    return mask_under(obj, item, item->string ? item->string : "");
}

/* Masks PII-named members of OBJ and below: strings and numbers only (a
 * consent flag named "email" is no address). */
int privacy_scrub_object(char *const *fields, int count, cJSON *obj)
{
    int masked = 0;
    for (cJSON *item = obj ? obj->child : NULL, *next; item; item = next) {
        next = item->next;
        if (item->string && privacy_listed(fields, count, item->string))
            masked += privacy_mask_member(obj, item);
        else if (cJSON_IsObject(item) || cJSON_IsArray(item))
            masked += privacy_scrub_object(fields, count, item);
    }
    return masked;
}

int privacy_scrub_event(char *const *fields, int count, cJSON *event)
{
    cJSON *context = cJSON_GetObjectItemCaseSensitive(event, "context");
    return privacy_scrub_object(fields, count,
                                cJSON_GetObjectItemCaseSensitive(event, "traits")) +
           privacy_scrub_object(fields, count,
                                cJSON_GetObjectItemCaseSensitive(event, "properties")) +
           privacy_scrub_object(fields, count,
                                cJSON_GetObjectItemCaseSensitive(context, "traits"));
}

int privacy_blind(const privacy *p, const char *kind, const char *value,
                  unsigned char digest[32], char *err, size_t err_len)
{
    return vault_blind(p->blind_key, kind, value, digest, err, err_len);
}

int privacy_blind_hex(const privacy *p, const char *kind, const char *value, char hex[65],
                      char *err, size_t err_len)
{
    unsigned char digest[32];
    if (privacy_blind(p, kind, value, digest, err, err_len)) return -1;
    sodium_bin2hex(hex, 65, digest, sizeof digest);
    return 0;
}

void privacy_key_id(const privacy *p, char out[17])
{
    vault_key_id(p->vault, out);
}

/* Re-seals one sealed key from the old master key to the new one. */
static int reseal_one(const vault *old, const vault *next, const char *label,
                      unsigned char sealed[VAULT_SEALED_LEN])
{
    unsigned char key[VAULT_KEY_LEN];
    int rc = vault_unseal(old, label, sealed, VAULT_SEALED_LEN, key) ||
             vault_seal(next, label, key, sealed);
    sodium_memzero(key, sizeof key);
    return rc ? -1 : 0;
}

/* Re-seals the profile keys one by one in id order (no cursor stays open
 * across the updates). */
static long reseal_profiles(privacy *p, store *s, const vault *next)
{
    char id[256] = "", label[300];
    unsigned char sealed[VAULT_SEALED_LEN];
    long done = 0;
    int found;
    while ((found = store_profile_sealed_next(s, id, sizeof id, sealed, sizeof sealed)) ==
           1) {
        snprintf(label, sizeof label, "profile:%s", id);
        if (reseal_one(p->vault, next, label, sealed) ||
            store_profile_sealed_set(s, id, sealed, sizeof sealed))
            return log_error("profile %s: cannot re-seal its key", id), -1;
        done++;
    }
    return found < 0 ? -1 : done;
}

/* Re-seals the secret NAME when the database holds one. */
static int reseal_optional(privacy *p, store *s, const vault *next, const char *name)
{
    unsigned char sealed[VAULT_SEALED_LEN];
    int found = store_secret_get(s, name, sealed, sizeof sealed);
    if (found <= 0) return found;
    if (reseal_one(p->vault, next, name, sealed)) return -1;
    return store_secret_put(s, name, sealed, sizeof sealed);
}

int privacy_reseal(privacy *p, store *s, const char *new_key_file, char *err,
                   size_t err_len)
{
    vault *next;
    unsigned char sealed[VAULT_SEALED_LEN];
    if (vault_load(new_key_file, 0, NULL, &next, err, err_len)) return -1;
    long count = reseal_profiles(p, s, next);
    int rc = count < 0 || store_secret_get(s, BLIND_SECRET, sealed, sizeof sealed) != 1 ||
             reseal_one(p->vault, next, BLIND_SECRET, sealed) ||
             store_secret_put(s, BLIND_SECRET, sealed, sizeof sealed) ||
             reseal_optional(p, s, next, UNSUBSCRIBE_SECRET) ||
             reseal_optional(p, s, next, INBOX_SECRET);
    if (rc)
        snprintf(err, err_len, "cannot re-seal the keys under %s", new_key_file);
    else
        log_info("re-sealed %ld profile keys and the database's secrets", count);
    vault_free(next);
    return rc ? -1 : 0;
}
