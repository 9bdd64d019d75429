/* Shared by privacy.c (keys, masking) and privacy_pii.c (PII records). */
#ifndef NUDGE_PRIVACY_INTERNAL_H
#define NUDGE_PRIVACY_INTERNAL_H
#include "privacy.h"
#include "vault.h"

#define PRIVACY_MAX_FIELDS 64

struct privacy {
    vault *vault;
    unsigned char blind_key[VAULT_KEY_LEN];
    char *fields[PRIVACY_MAX_FIELDS];
    int field_count;
    char *const *exposed;
    int exposed_count;
};

/* Whether NAME is in the list, ignoring case. */
int privacy_listed(char *const *names, int count, const char *name);

/* The display mask of a PII value: email and phone keep their shape
 * ("j***@example.com", "+1******4567"), anything else its first
 * character ("J***").  OUT holds strlen(value) + 8 bytes or more. */
void privacy_mask(const char *field, const char *value, char *out, size_t out_len);

/* Masks every string and number under ITEM (a member of OBJ named like a
 * PII field): a scalar is replaced, arrays and objects masked leaf by
 * leaf.  Returns how many values it masked. */
int privacy_mask_member(cJSON *obj, cJSON *item);

/* Masks the PII-named members of OBJ at any depth. */
int privacy_scrub_object(char *const *fields, int count, cJSON *obj);

#endif
