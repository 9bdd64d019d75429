/* Privacy built into storage: the master key and the blind-index key,
 * per-profile data keys, PII traits encrypted on the way in and masked in
 * what stays readable.  See privacy.h and docs/profiles.md. */
#include "privacy.h"

#include "log.h"
#include "pii_hash.h"
#include "vault.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLIND_SECRET "blind-index"
#define MAX_FIELDS 64

struct privacy {
    vault *vault;
    unsigned char blind_key[VAULT_KEY_LEN];
    char *fields[MAX_FIELDS];
    int field_count;
    char *const *exposed;
    int exposed_count;
    char cached_id[256]; /* the last data key used, to spare an unseal */
    unsigned char cached_key[VAULT_KEY_LEN];
};

static const char *const default_fields[] = {PRIVACY_DEFAULT_FIELDS};

static int listed(char *const *names, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (!strcmp(names[i], name)) return 1;
    return 0;
}

int privacy_is_pii(const privacy *p, const char *name)
{
    return listed(p->fields, p->field_count, name);
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
    for (int i = 0; i < o->field_count && p->field_count < MAX_FIELDS; i++)
        if (!listed(p->fields, p->field_count, o->fields[i]))
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
    if (vault_seal(p->vault, BLIND_SECRET, p->blind_key, sealed) ||
        store_begin(s) || store_secret_put(s, BLIND_SECRET, sealed, sizeof sealed) ||
        store_commit(s))
        return store_rollback(s), snprintf(err, err_len, "cannot save the keys"), -1;
    return 0;
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

/* The profile's data key; with CREATE, made and sealed when missing.
 * 1 found or made, 0 absent, -1 error. */
static int data_key(privacy *p, store *s, const char *id, int create,
                    unsigned char key[VAULT_KEY_LEN])
{
    char label[300];
    unsigned char sealed[VAULT_SEALED_LEN];
    if (!strcmp(p->cached_id, id)) return memcpy(key, p->cached_key, VAULT_KEY_LEN), 1;
    snprintf(label, sizeof label, "profile:%s", id);
    int found = store_profile_key_get(s, id, sealed, sizeof sealed);
    if (found < 0) return -1;
    if (found && vault_unseal(p->vault, label, sealed, sizeof sealed, key))
        return log_error("profile %s: its data key does not open", id), -1;
    if (!found && !create) return 0;
    if (!found) {
        vault_random_key(key);
        if (vault_seal(p->vault, label, key, sealed) ||
            store_profile_key_put(s, id, sealed, sizeof sealed))
            return -1;
    }
    if (strlen(id) < sizeof p->cached_id) {
        strcpy(p->cached_id, id);
        memcpy(p->cached_key, key, VAULT_KEY_LEN);
    }
    return 1;
}

static void forget_cached_key(privacy *p)
{
    sodium_memzero(p->cached_key, sizeof p->cached_key);
    p->cached_id[0] = 0;
}

static int encrypt_field(privacy *p, store *s, const char *id, const char *field,
                         const char *value)
{
    unsigned char key[VAULT_KEY_LEN], *blob = NULL;
    size_t len = 0;
    char label[600];
    snprintf(label, sizeof label, "%s/%s", id, field);
    int rc = data_key(p, s, id, 1, key) == 1 &&
                     !vault_encrypt(key, label, value, strlen(value), &blob, &len)
                 ? store_pii_put(s, id, field, blob, len)
                 : -1;
    sodium_memzero(key, sizeof key);
    free(blob);
    return rc;
}

/* Email and phone are findable by their blind index. */
static int index_field(privacy *p, store *s, const char *id, const char *field,
                       const char *value)
{
    unsigned char digest[32];
    char err[300];
    if (strcmp(field, "email") && strcmp(field, "phone")) return 0;
    if (!value) return store_lookup_set(s, id, field, NULL);
    if (vault_blind(p->blind_key, field, value, digest, err, sizeof err)) {
        log_warn("profile %s: %s is not indexed: %s", id, field, err);
        return store_lookup_set(s, id, field, NULL);
    }
    return store_lookup_set(s, id, field, digest);
}

/* Puts MASK in the place of ITEM (a member of OBJ).  1, or 0 when out of
 * memory. */
static int replace_with_mask(cJSON *obj, cJSON *item, const char *mask)
{
    cJSON *masked = cJSON_CreateString(mask);
    char *key = strdup(item->string);
    if (!masked || !key) return cJSON_Delete(masked), free(key), 0;
    masked->string = key;
    return cJSON_ReplaceItemViaPointer(obj, item, masked) ? 1 : (cJSON_Delete(masked), 0);
}

/* One PII member of identify traits: stored encrypted, replaced by its
 * mask (or removed with its index when null). */
static int protect_member(privacy *p, store *s, const char *id, cJSON *traits,
                          cJSON *item)
{
    const char *field = item->string;
    if (cJSON_IsNull(item))
        return store_pii_delete(s, id, field) || index_field(p, s, id, field, NULL);
    char *printed = cJSON_IsString(item) ? NULL : cJSON_PrintUnformatted(item);
    const char *value = printed ? printed : item->valuestring;
    char mask[512];
    int rc = !value || encrypt_field(p, s, id, field, value) ||
             index_field(p, s, id, field, value);
    pii_mask(value ? value : "", mask, sizeof mask);
    free(printed);
    if (!replace_with_mask(traits, item, mask)) rc = 1;
    return rc ? -1 : 0;
}

static int scrub_object(char *const *fields, int count, cJSON *obj);

int privacy_apply_object(privacy *p, store *s, const char *profile_id, cJSON *traits)
{
    int rc = cJSON_IsObject(traits) ? 0 : -1;
    for (cJSON *item = traits ? traits->child : NULL, *next; item && !rc; item = next) {
        next = item->next; /* item may be replaced */
        if (privacy_is_pii(p, item->string) &&
            (cJSON_IsString(item) || cJSON_IsNumber(item) || cJSON_IsNull(item)))
            rc = protect_member(p, s, profile_id, traits, item);
        else if (cJSON_IsObject(item) || cJSON_IsArray(item)) /* nested: masked only */
            scrub_object(p->fields, p->field_count, item);
    }
    char *text = rc ? NULL : cJSON_PrintUnformatted(traits);
    rc = text ? store_profile_merge_traits(s, profile_id, text) : -1;
    free(text);
    return rc;
}

int privacy_apply_traits(privacy *p, store *s, const char *profile_id,
                         const char *traits_json)
{
    cJSON *traits = cJSON_Parse(traits_json);
    int rc = privacy_apply_object(p, s, profile_id, traits);
    cJSON_Delete(traits);
    return rc;
}

void privacy_key_id(const privacy *p, char out[17])
{
    vault_key_id(p->vault, out);
}

/* Masks PII-named members of OBJ and below: strings and numbers only (a
 * consent flag named "email" is no address). */
static int scrub_object(char *const *fields, int count, cJSON *obj)
{
    int masked = 0;
    for (cJSON *item = obj ? obj->child : NULL, *next; item; item = next) {
        next = item->next;
        if (item->string && listed(fields, count, item->string) &&
            (cJSON_IsString(item) || cJSON_IsNumber(item))) {
            char mask[512];
            char *printed = cJSON_IsString(item) ? NULL : cJSON_PrintUnformatted(item);
            pii_mask(printed ? printed : item->valuestring, mask, sizeof mask);
            free(printed);
            masked += replace_with_mask(obj, item, mask);
        } else if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
            masked += scrub_object(fields, count, item);
        }
    }
    return masked;
}

int privacy_scrub_event(char *const *fields, int count, cJSON *event)
{
    cJSON *context = cJSON_GetObjectItemCaseSensitive(event, "context");
    return scrub_object(fields, count, cJSON_GetObjectItemCaseSensitive(event, "traits")) +
           scrub_object(fields, count,
                        cJSON_GetObjectItemCaseSensitive(event, "properties")) +
           scrub_object(fields, count, cJSON_GetObjectItemCaseSensitive(context, "traits"));
}

static int decrypt_field(privacy *p, store *s, const char *id, const char *field,
                         const unsigned char *blob, size_t len, char **plain)
{
    unsigned char key[VAULT_KEY_LEN];
    char label[600];
    size_t plain_len;
    *plain = NULL;
    snprintf(label, sizeof label, "%s/%s", id, field);
    int found = data_key(p, s, id, 0, key);
    int rc = found == 1 ? vault_decrypt(key, label, blob, len, plain, &plain_len) : -1;
    sodium_memzero(key, sizeof key);
    if (rc) log_error("profile %s: field %s does not decrypt", id, field);
    return rc;
}

typedef struct reveal_ctx {
    privacy *p;
    store *s;
    const char *id, *only; /* only: one field, else all */
    char *found;
    cJSON *into;
} reveal_ctx;

static int reveal_one(void *ctx, const char *field, const unsigned char *blob, size_t len)
{
    reveal_ctx *r = ctx;
    char *plain;
    if (r->only && strcmp(r->only, field)) return 0;
    if (decrypt_field(r->p, r->s, r->id, field, blob, len, &plain)) return 0;
    if (r->only) return r->found = plain, 1;
    cJSON_DeleteItemFromObjectCaseSensitive(r->into, field);
    cJSON_AddStringToObject(r->into, field, plain);
    sodium_memzero(plain, strlen(plain));
    free(plain);
    return 0;
}

char *privacy_reveal(privacy *p, store *s, const char *profile_id, const char *field)
{
    reveal_ctx r = {p, s, profile_id, field, NULL, NULL};
    store_pii_each(s, profile_id, reveal_one, &r);
    return r.found;
}

int privacy_reveal_all(privacy *p, store *s, const char *profile_id, cJSON *obj)
{
    reveal_ctx r = {p, s, profile_id, NULL, NULL, obj};
    return store_pii_each(s, profile_id, reveal_one, &r) < 0 ? -1 : 0;
}

char *privacy_expose(privacy *p, store *s, const char *profile_id, char *text)
{
    if (!p || !p->exposed_count || !text) return text;
    cJSON *profile = cJSON_Parse(text);
    for (int i = 0; profile && i < p->exposed_count; i++) {
        char *plain = privacy_reveal(p, s, profile_id, p->exposed[i]);
        if (!plain) continue;
        cJSON_DeleteItemFromObjectCaseSensitive(profile, p->exposed[i]);
        cJSON_AddStringToObject(profile, p->exposed[i], plain);
        free(plain);
    }
    char *out = profile ? cJSON_PrintUnformatted(profile) : NULL;
    cJSON_Delete(profile);
    if (!out) return text;
    free(text);
    return out;
}

int privacy_blind_hex(const privacy *p, const char *kind, const char *value,
                      char hex[65], char *err, size_t err_len)
{
    unsigned char digest[32];
    if (vault_blind(p->blind_key, kind, value, digest, err, err_len)) return -1;
    sodium_bin2hex(hex, 65, digest, sizeof digest);
    return 0;
}

char *privacy_find(privacy *p, store *s, const char *kind, const char *value)
{
    unsigned char digest[32];
    char err[300];
    if (vault_blind(p->blind_key, kind, value, digest, err, sizeof err)) return NULL;
    return store_lookup_find(s, kind, digest);
}

int privacy_merge(privacy *p, store *s, const char *from, const char *into)
{
    /* collect first: encrypting for INTO writes the table being walked */
    cJSON *fields = cJSON_CreateObject();
    int rc = privacy_reveal_all(p, s, from, fields);
    for (cJSON *f = fields ? fields->child : NULL; f && !rc; f = f->next) {
        char *theirs = privacy_reveal(p, s, into, f->string);
        if (!theirs)
            rc = encrypt_field(p, s, into, f->string, f->valuestring) ||
                 index_field(p, s, into, f->string, f->valuestring);
        free(theirs);
    }
    cJSON_Delete(fields);
    forget_cached_key(p);
    return rc ? -1 : 0;
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

/* Re-seals the profile keys in pages of ids (the table is rewritten as it
 * is read, so no cursor stays open across the updates). */
static long reseal_profiles(privacy *p, store *s, const vault *next)
{
    sqlite3_stmt *st;
    char last[256] = "", label[300];
    long done = 0;
    const char *sql = "SELECT profile_id, sealed FROM profile_keys WHERE profile_id > ?"
                      " ORDER BY profile_id LIMIT 1";
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL)) return -1;
    for (;;) {
        sqlite3_bind_text(st, 1, last, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_ROW) break;
        unsigned char sealed[VAULT_SEALED_LEN];
        snprintf(last, sizeof last, "%s", (const char *)sqlite3_column_text(st, 0));
        int ok = sqlite3_column_bytes(st, 1) == VAULT_SEALED_LEN;
        if (ok) memcpy(sealed, sqlite3_column_blob(st, 1), VAULT_SEALED_LEN);
        sqlite3_reset(st);
        snprintf(label, sizeof label, "profile:%s", last);
        if (!ok || reseal_one(p->vault, next, label, sealed) ||
            store_profile_key_put(s, last, sealed, sizeof sealed))
            return sqlite3_finalize(st), log_error("profile %s: cannot re-seal", last), -1;
        done++;
    }
    sqlite3_finalize(st);
    return done;
}

int privacy_reseal(privacy *p, store *s, const char *new_key_file, char *err,
                   size_t err_len)
{
    vault *next;
    unsigned char sealed[VAULT_SEALED_LEN];
    if (vault_load(new_key_file, 0, NULL, &next, err, err_len)) return -1;
    long count = reseal_profiles(p, s, next);
    int rc = count < 0 ||
             store_secret_get(s, BLIND_SECRET, sealed, sizeof sealed) != 1 ||
             reseal_one(p->vault, next, BLIND_SECRET, sealed) ||
             store_secret_put(s, BLIND_SECRET, sealed, sizeof sealed);
    if (rc) snprintf(err, err_len, "cannot re-seal the keys under %s", new_key_file);
    else log_info("re-sealed %ld profile keys and the blind-index key", count);
    vault_free(next);
    forget_cached_key(p);
    return rc ? -1 : 0;
}
