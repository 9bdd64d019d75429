/* Privacy built into storage, the PII records: each profile's PII fields
 * are one JSON object encrypted under the profile's data key, written in
 * the same row write as its traits (masked), its sealed key and the blind
 * indexes of its email and phone.  See docs/profiles.md. */
#include "privacy_internal.h"

#include "log.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A profile's protected state while it is being read or changed. */
typedef struct record {
    unsigned char key[VAULT_KEY_LEN];
    unsigned char sealed[VAULT_SEALED_LEN];
    int has_key;
    cJSON *fields; /* the decrypted PII fields (an object) */
} record;

static void record_free(record *r)
{
    sodium_memzero(r->key, sizeof r->key);
    cJSON_Delete(r->fields);
    r->fields = NULL;
}

static void label_of(const char *id, const char *what, char *out, size_t len)
{
    snprintf(out, len, "%s%s", what, id);
}

/* Reads and opens the profile's key and PII record.  With CREATE, a
 * profile without a key gets a new one.  0, or -1 (logged). */
static int record_load(privacy *p, store *s, const char *id, int create, record *r)
{
    unsigned char *blob;
    size_t len;
    char label[300];
    memset(r, 0, sizeof *r);
    int found = store_profile_secret_get(s, id, r->sealed, sizeof r->sealed, &blob, &len);
    if (found < 0) return -1;
    label_of(id, "profile:", label, sizeof label);
    if (found && vault_unseal(p->vault, label, r->sealed, sizeof r->sealed, r->key))
        return free(blob), log_error("profile %s: its data key does not open", id), -1;
    if (!found && create) {
        vault_random_key(r->key);
        if (vault_seal(p->vault, label, r->key, r->sealed)) return free(blob), -1;
    }
    r->has_key = found || create;
    char *plain = NULL;
    size_t plain_len;
    label_of(id, "pii:", label, sizeof label);
    if (blob && vault_decrypt(r->key, label, blob, len, &plain, &plain_len))
        log_error("profile %s: its PII record does not decrypt", id);
    free(blob);
    r->fields = plain ? cJSON_Parse(plain) : NULL;
    if (plain) sodium_memzero(plain, plain_len), free(plain);
    if (!cJSON_IsObject(r->fields))
        cJSON_Delete(r->fields), r->fields = cJSON_CreateObject();
    return r->fields ? 0 : -1;
}

/* The blind index of the record's email or phone; 0, or -1 when there is
 * none or it cannot be normalized (then it is not findable). */
static int blind_of(privacy *p, const char *id, record *r, const char *kind,
                    unsigned char out[32])
{
    char err[300];
    cJSON *v = cJSON_GetObjectItemCaseSensitive(r->fields, kind);
    if (!cJSON_IsString(v)) return -1;
    if (!vault_blind(p->blind_key, kind, v->valuestring, out, err, sizeof err)) return 0;
    log_warn("profile %s: %s is not indexed: %s", id, kind, err);
    return -1;
}

/* Writes TRAITS (masked) with the record, encrypted, in one row write. */
static int record_save(privacy *p, store *s, const char *id, record *r,
                       const char *traits)
{
    char label[300], *plain = cJSON_PrintUnformatted(r->fields);
    unsigned char *blob = NULL, email[32], phone[32];
    size_t len = 0;
    label_of(id, "pii:", label, sizeof label);
    int rc = !plain || vault_encrypt(r->key, label, plain, strlen(plain), &blob, &len);
    if (plain) sodium_memzero(plain, strlen(plain)), free(plain);
    store_secret_row row = {r->sealed,
                            blob,
                            sizeof r->sealed,
                            len,
                            blind_of(p, id, r, "email", email) ? NULL : email,
                            blind_of(p, id, r, "phone", phone) ? NULL : phone};
    if (!rc) rc = store_profile_secret_put(s, id, traits, &row);
    free(blob);
    return rc ? -1 : 0;
}

/* Moves the PII members of TRAITS into the record (null removes one) and
 * leaves their masks in TRAITS.  Returns how many there were. */
static int take_pii(privacy *p, cJSON *traits, record *r)
{
    int taken = 0;
    for (cJSON *item = traits->child, *next; item; item = next) {
        next = item->next;
        if (!privacy_is_pii(p, item->string)) {
            if (cJSON_IsObject(item) || cJSON_IsArray(item)) /* nested: masked only */
                privacy_scrub_object(p->fields, p->field_count, item);
            continue;
        }
        if (cJSON_IsBool(item)) continue; /* a flag named like a field is no PII */
        cJSON_DeleteItemFromObjectCaseSensitive(r->fields, item->string);
        if (!cJSON_IsNull(item)) {
            char *value = cJSON_IsString(item) ? strdup(item->valuestring)
                                               : cJSON_PrintUnformatted(item);
            cJSON_AddItemToObject(r->fields, item->string, cJSON_CreateString(value));
            free(value);
            privacy_mask_member(traits, item);
        }
        taken++;
    }
    return taken;
}

int privacy_apply_object(privacy *p, store *s, const char *profile_id, cJSON *traits)
{
    record r;
    int has_pii = 0;
    if (!cJSON_IsObject(traits)) return -1;
    for (cJSON *item = traits->child; item && !has_pii; item = item->next)
        has_pii = privacy_is_pii(p, item->string) && !cJSON_IsBool(item);
    if (has_pii && record_load(p, s, profile_id, 1, &r)) return -1;
    if (has_pii)
        take_pii(p, traits, &r);
    else
        privacy_scrub_object(p->fields, p->field_count, traits);
    char *text = cJSON_PrintUnformatted(traits);
    int rc = !text     ? -1
             : has_pii ? record_save(p, s, profile_id, &r, text)
                       : store_profile_merge_traits(s, profile_id, text);
    free(text);
    if (has_pii) record_free(&r);
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

char *privacy_reveal(privacy *p, store *s, const char *profile_id, const char *field)
{
    record r;
    if (record_load(p, s, profile_id, 0, &r)) return NULL;
    cJSON *v = cJSON_GetObjectItemCaseSensitive(r.fields, field);
    char *plain = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
    record_free(&r);
    return plain;
}

int privacy_reveal_all(privacy *p, store *s, const char *profile_id, cJSON *obj)
{
    record r;
    if (record_load(p, s, profile_id, 0, &r)) return -1;
    for (cJSON *f = r.fields->child; f; f = f->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, f->string);
        cJSON_AddItemToObject(obj, f->string, cJSON_Duplicate(f, 1));
    }
    record_free(&r);
    return 0;
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

char *privacy_find(privacy *p, store *s, const char *kind, const char *value)
{
    unsigned char digest[32];
    char err[300];
    if (vault_blind(p->blind_key, kind, value, digest, err, sizeof err)) return NULL;
    return store_profile_find(s, kind, digest);
}

int privacy_merge(privacy *p, store *s, const char *from, const char *into)
{
    record theirs, ours;
    if (record_load(p, s, from, 0, &theirs)) return -1;
    int rc = record_load(p, s, into, 0, &ours);
    cJSON *missing = cJSON_CreateObject(); /* FROM's fields INTO lacks */
    for (cJSON *f = rc ? NULL : theirs.fields->child; f && missing; f = f->next)
        if (!cJSON_GetObjectItemCaseSensitive(ours.fields, f->string))
            cJSON_AddItemToObject(missing, f->string, cJSON_Duplicate(f, 1));
    if (!rc && missing && missing->child) rc = privacy_apply_object(p, s, into, missing);
    cJSON_Delete(missing);
    record_free(&theirs);
    record_free(&ours);
    return rc ? -1 : 0;
}
