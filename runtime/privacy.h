/* Privacy built into storage: PII traits are encrypted under a per-profile
 * data key sealed by the master key, email and phone are findable through
 * a keyed blind index, and what recipes, events and traits keep in the
 * clear is only a mask.  Plain C over the store and the vault. */
#ifndef NUDGE_PRIVACY_H
#define NUDGE_PRIVACY_H
#include "store.h"

#include <cJSON.h>

#define PRIVACY_DEFAULT_FIELDS "email", "phone", "first_name", "last_name"

typedef struct privacy privacy;

typedef struct privacy_options {
    const char *key_file;
    char *const *fields; /* PII trait names beyond the defaults */
    int field_count;
    char *const *exposed; /* PII fields recipes may read in the clear */
    int exposed_count;
} privacy_options;

/* Loads the master key and the database's blind-index key.  Without a key
 * file, and with nothing yet sealed in the database, creates both (and
 * says so).  Finishes an interrupted key rotation.  0, or -1 with `err`
 * naming the key file and the problem. */
int privacy_open(store *s, const privacy_options *o, privacy **out, char *err,
                 size_t err_len);
void privacy_free(privacy *p);

/* 16 hex characters naming the master key in use (vault_key_id). */
void privacy_key_id(const privacy *p, char out[17]);

/* Whether NAME is a PII field (the defaults plus the config's). */
int privacy_is_pii(const privacy *p, const char *name);

/* Replaces, in place, every string or number under a PII-named member of
 * the event's traits, context.traits and properties (at any depth) by its
 * mask.  Names match without regard to case.  Thread-safe: needs only the
 * field list.  Returns how many values it masked. */
int privacy_scrub_event(char *const *fields, int count, cJSON *event);

/* The full field list (defaults and config), for privacy_scrub_event. */
char *const *privacy_fields(const privacy *p, int *count);

/* Merges identify traits (a JSON object) into the profile: PII members
 * join the profile's encrypted PII record (email and phone blind-indexed)
 * and only their masks join the traits; PII names nested deeper are
 * masked.  One row write.  0, or -1 (logged). */
int privacy_apply_traits(privacy *p, store *s, const char *profile_id,
                         const char *traits_json);
/* The same for traits already parsed (an object; its PII members are
 * replaced by masks). */
int privacy_apply_object(privacy *p, store *s, const char *profile_id, cJSON *traits);

/* The decrypted value of one PII field (malloc'd), or NULL when absent. */
char *privacy_reveal(privacy *p, store *s, const char *profile_id, const char *field);

/* Every PII field of the profile, decrypted, added to OBJ (replacing its
 * mask). */
int privacy_reveal_all(privacy *p, store *s, const char *profile_id, cJSON *obj);

/* Patches the exposed PII fields into a profile's JSON (the text from
 * store_profile_json); returns the new text (malloc'd) or TEXT itself. */
char *privacy_expose(privacy *p, store *s, const char *profile_id, char *text);

/* VALUE's blind index (kind "email" or "phone").  0, or -1 with a message
 * that never repeats the value. */
int privacy_blind(const privacy *p, const char *kind, const char *value,
                  unsigned char digest[32], char *err, size_t err_len);

/* The hex of VALUE's blind index (kind "email" or "phone").  0, or -1
 * with a message that never repeats the value. */
int privacy_blind_hex(const privacy *p, const char *kind, const char *value, char hex[65],
                      char *err, size_t err_len);

/* The profile whose email or phone is VALUE (malloc'd), or NULL. */
char *privacy_find(privacy *p, store *s, const char *kind, const char *value);

/* Re-encrypts FROM's PII fields that INTO lacks under INTO's key (before
 * store_profile_merge drops FROM's). */
int privacy_merge(privacy *p, store *s, const char *from, const char *into);

/* The database's unsubscribe key (the MAC key of one-click unsubscribe
 * tokens, unsubscribe.h): unsealed from `secrets`, or made and sealed
 * there on first use (in its own transaction: call it outside one).  It
 * survives key rotation, so old links keep working.  0, or -1 (logged)
 * with KEY zeroed. */
int privacy_unsubscribe_key(privacy *p, store *s, unsigned char key[32]);

/* The key of `nudge serve`'s inbox rows (inbox.h), the same way. */
int privacy_inbox_key(privacy *p, store *s, unsigned char key[32]);

/* Re-seals every data key and secret under the key in NEW_KEY_FILE.  Runs
 * in the caller's transaction.  0, or -1 with `err`. */
int privacy_reseal(privacy *p, store *s, const char *new_key_file, char *err,
                   size_t err_len);

#endif
