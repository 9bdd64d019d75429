/* The cryptography behind PII encrypted at rest: the master key file, 32-byte
 * data keys sealed under it, field encryption with a data key, and blind
 * indexes for lookups.  Plain C on libsodium: no Lua, no database. */
#ifndef NUDGE_VAULT_H
#define NUDGE_VAULT_H
#include <stddef.h>

#define VAULT_KEY_LEN 32   /* master keys, data keys, the blind-index key */
#define VAULT_NONCE_LEN 24 /* XChaCha20-Poly1305 nonce, stored first */
#define VAULT_TAG_LEN 16   /* Poly1305 tag, stored last */
/* What vault_encrypt adds to a plaintext's length. */
#define VAULT_OVERHEAD (VAULT_NONCE_LEN + VAULT_TAG_LEN)
/* A sealed 32-byte secret: nonce, ciphertext, tag. */
#define VAULT_SEALED_LEN (VAULT_NONCE_LEN + VAULT_KEY_LEN + VAULT_TAG_LEN)

/* The master key, held in guarded memory (sodium_malloc). */
typedef struct vault vault;

/* Initializes libsodium; every other function needs it.  Safe to call more
 * than once and from several threads.  0, or -1 when libsodium cannot start. */
int vault_init(void);

/* Reads the key file at PATH (one line: "nudge-key-v1 <base64 of 32 bytes>").
 * When it is missing and CREATE is set, writes a new one as vault_write_new
 * does and sets *created (which may be NULL) to 1; if another process
 * creates it at the same moment, loads theirs.  Refuses a file that group or
 * others can read or write.  0 with *out set (free it with vault_free), or -1
 * with a message naming PATH in `err` and *out NULL. */
int vault_load(const char *path, int create, int *created, vault **out, char *err,
               size_t err_len);

/* Writes a new key file at PATH with 32 random bytes: created exclusively
 * (it fails if PATH exists), mode 0600, fsync'd, then the directory fsync'd.
 * Used by `nudge keygen` and key rotation.  0, or -1 with a message. */
int vault_write_new(const char *path, char *err, size_t err_len);

/* Wipes the key and frees the vault.  NULL is fine. */
void vault_free(vault *v);

/* 16 hex characters naming the master key in messages without revealing it
 * (a BLAKE2b hash of the key with a fixed personalization). */
void vault_key_id(const vault *v, char out[17]);

/* Fills OUT with a fresh random 32-byte key (data key, blind-index key). */
void vault_random_key(unsigned char out[VAULT_KEY_LEN]);

/* Seals SECRET under the master key with XChaCha20-Poly1305, a random nonce
 * and LABEL (e.g. "profile:u123", "blind-index") as associated data, so it
 * unseals only under the same label.  0, or -1. */
int vault_seal(const vault *v, const char *label,
               const unsigned char secret[VAULT_KEY_LEN],
               unsigned char out[VAULT_SEALED_LEN]);

/* Opens what vault_seal wrote.  0 with SECRET filled, or -1 for a wrong
 * master key, a wrong label, tampering or a wrong length (SECRET zeroed). */
int vault_unseal(const vault *v, const char *label, const unsigned char *sealed,
                 size_t len, unsigned char secret[VAULT_KEY_LEN]);

/* Encrypts LEN bytes of PLAIN under the data key KEY with XChaCha20-Poly1305
 * and LABEL (e.g. "u123/email") as associated data.  *out (malloc'd, freed by
 * the caller) is nonce, ciphertext, tag: LEN + VAULT_OVERHEAD bytes.  0, or
 * -1 (out of memory, too long, NULL label). */
int vault_encrypt(const unsigned char key[VAULT_KEY_LEN], const char *label,
                  const char *plain, size_t len, unsigned char **out, size_t *out_len);

/* Decrypts what vault_encrypt wrote under the same KEY and LABEL.  *plain is
 * malloc'd and NUL-terminated; the caller frees it (after sodium_memzero if
 * it should not linger).  0, or -1 (wrong key or label, tampered, too short,
 * out of memory) with *plain NULL. */
int vault_decrypt(const unsigned char key[VAULT_KEY_LEN], const char *label,
                  const unsigned char *in, size_t len, char **plain, size_t *plain_len);

/* The blind index of VALUE: keyed BLAKE2b-256 under INDEX_KEY over
 * KIND ":" normalized value, normalized as pii_normalize(KIND, VALUE, "meta")
 * does (email trimmed and lowercased, phone as E.164 digits).  KIND is
 * "email" or "phone".  0, or -1 with a message in `err` that never contains
 * VALUE. */
int vault_blind(const unsigned char index_key[VAULT_KEY_LEN], const char *kind,
                const char *value, unsigned char out[32], char *err, size_t err_len);

/* Lowercase hex of LEN bytes of BIN; OUT holds 2 * LEN + 1 characters. */
void vault_hex(const unsigned char *bin, size_t len, char *out);

#endif
