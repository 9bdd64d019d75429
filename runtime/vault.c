/* PII encryption at rest on libsodium: the master key file (read, created
 * exclusively, mode checked), secrets sealed under the master key, fields
 * encrypted under data keys, and keyed-BLAKE2b blind indexes. */
#include "vault.h"
#include "pii_hash.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(VAULT_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(VAULT_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "nonce size");
_Static_assert(VAULT_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(VAULT_KEY_LEN >= crypto_generichash_KEYBYTES_MIN &&
                   VAULT_KEY_LEN <= crypto_generichash_KEYBYTES_MAX,
               "blind-index key size");

#define BASE64 sodium_base64_VARIANT_ORIGINAL
#define KEY_HEADER "nudge-key-v1 "
#define KEY_HEADER_LEN (sizeof KEY_HEADER - 1)
#define KEY_BASE64_LEN (sodium_base64_ENCODED_LEN(VAULT_KEY_LEN, BASE64) - 1)
#define KEY_LINE_LEN (KEY_HEADER_LEN + KEY_BASE64_LEN + 1) /* with the "\n" */

/* What reading the key file found, beyond success (0) and an error (-1). */
enum { READ_MISSING = -2, READ_EMPTY = -3 };
/* vault_write_new's internal result when PATH already exists. */
enum { WRITE_EXISTS = -2 };

struct vault {
    unsigned char key[VAULT_KEY_LEN];
};

static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -1;
}

int vault_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

/* ---- the key file ------------------------------------------------------ */

/* Decodes a key line (LINE, LEN bytes, no NUL needed) into KEY. */
static int parse_key_line(const char *path, const char *line, size_t len,
                          unsigned char key[VAULT_KEY_LEN], char *err, size_t err_len)
{
    if (len == 0) {
        fail(err, err_len, "%s: empty key file", path);
        return READ_EMPTY;
    }
    if (len < KEY_HEADER_LEN || memcmp(line, KEY_HEADER, KEY_HEADER_LEN) != 0)
        return fail(err, err_len,
                    "%s: not a nudge key file (the line must be 'nudge-key-v1 "
                    "<base64 of 32 bytes>')",
                    path);
    const char *b64 = line + KEY_HEADER_LEN;
    size_t b64_len = len - KEY_HEADER_LEN;
    if (b64_len > 0 && b64[b64_len - 1] == '\n') b64_len--;
    if (b64_len > 0 && b64[b64_len - 1] == '\r') b64_len--;
    size_t key_len = 0;
    const char *end = NULL;
    if (b64_len > KEY_BASE64_LEN ||
        sodium_base642bin(key, VAULT_KEY_LEN, b64, b64_len, NULL, &key_len, &end,
                          BASE64) != 0 ||
        end != b64 + b64_len)
        return fail(err, err_len,
                    "%s: the key is not %d bytes of base64 (truncated or damaged file?)",
                    path, VAULT_KEY_LEN);
    if (key_len != VAULT_KEY_LEN)
        return fail(err, err_len, "%s: the key is %zu bytes, expected %d", path, key_len,
                    VAULT_KEY_LEN);
    return 0;
}

/* Refuses anything but a regular file that only its owner can use. */
static int check_key_file_mode(const char *path, const struct stat *st, char *err,
                               size_t err_len)
{
    if (!S_ISREG(st->st_mode)) return fail(err, err_len, "%s: not a regular file", path);
    unsigned mode = (unsigned)st->st_mode & 07777;
    if (mode & 077)
        return fail(err, err_len,
                    "%s: mode %04o lets other users %s the key; chmod 600 it", path, mode,
                    (mode & 044) ? "read" : "change");
    return 0;
}

/* Reads at most CAP bytes of FD into BUF; *len is how many.  0, or -1. */
static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
    *len = 0;
    while (*len < cap) {
        ssize_t n = read(fd, buf + *len, cap - *len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) break;
        *len += (size_t)n;
    }
    return 0;
}

/* Reads the key file at PATH into KEY: 0, -1, READ_MISSING or READ_EMPTY,
 * the last three with a message. */
static int read_key_file(const char *path, unsigned char key[VAULT_KEY_LEN], char *err,
                         size_t err_len)
{
    char line[KEY_LINE_LEN + 2]; /* room to notice a line that is too long */
    size_t len = 0;
    struct stat st;
    int rc = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int missing = errno == ENOENT;
        fail(err, err_len, "%s: cannot open the key file: %s", path, strerror(errno));
        return missing ? READ_MISSING : -1;
    }
    if (fstat(fd, &st) != 0) {
        fail(err, err_len, "%s: cannot stat the key file: %s", path, strerror(errno));
        goto done;
    }
    if (check_key_file_mode(path, &st, err, err_len) != 0) goto done;
    if (read_all(fd, line, sizeof line, &len) != 0) {
        fail(err, err_len, "%s: cannot read the key file: %s", path, strerror(errno));
        goto done;
    }
    if (len == sizeof line)
        fail(err, err_len, "%s: too long for a nudge key file", path);
    else
        rc = parse_key_line(path, line, len, key, err, err_len);
done:
    sodium_memzero(line, sizeof line);
    close(fd);
    return rc;
}

/* Writes all LEN bytes of BUF to FD.  0, or -1 with errno set. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Creates PATH exclusively with mode 0600 and writes LINE to it, fsync'd.
 * 0, -1 or WRITE_EXISTS, with a message; removes a file it half wrote. */
static int write_exclusive(const char *path, const char *line, size_t len, char *err,
                           size_t err_len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int exists = errno == EEXIST;
        fail(err, err_len, "%s: cannot create the key file: %s%s", path, strerror(errno),
             exists ? " (refusing to overwrite a key)" : "");
        return exists ? WRITE_EXISTS : -1;
    }
    const char *failed_step = NULL;
    if (write_all(fd, line, len) != 0)
        failed_step = "write";
    else if (fsync(fd) != 0)
        failed_step = "fsync";
    int error = errno;
    if (close(fd) != 0 && !failed_step) {
        failed_step = "close";
        error = errno;
    }
    if (!failed_step) return 0;
    fail(err, err_len, "%s: cannot %s the new key file: %s", path, failed_step,
         strerror(error));
    unlink(path);
    return -1;
}

/* Fsyncs the directory holding PATH, so the new name survives a crash. */
static int sync_parent_directory(const char *path, char *err, size_t err_len)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
        return fail(err, err_len, "%s: directory name too long", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, err_len, "%s: cannot open the directory to fsync it: %s", dir,
                    strerror(errno));
    int rc = fsync(fd) == 0 || errno == EINVAL ? 0 : -1; /* EINVAL: cannot sync dirs */
    if (rc != 0)
        fail(err, err_len, "%s: cannot fsync the directory: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

/* vault_write_new, telling WRITE_EXISTS apart from other errors. */
static int write_new_key(const char *path, char *err, size_t err_len)
{
    unsigned char key[VAULT_KEY_LEN];
    char line[KEY_LINE_LEN + 1];
    randombytes_buf(key, sizeof key);
    memcpy(line, KEY_HEADER, KEY_HEADER_LEN);
    sodium_bin2base64(line + KEY_HEADER_LEN, sizeof line - KEY_HEADER_LEN, key,
                      sizeof key, BASE64);
    line[KEY_LINE_LEN - 1] = '\n';
    line[KEY_LINE_LEN] = '\0';
    int rc = write_exclusive(path, line, KEY_LINE_LEN, err, err_len);
    if (rc == 0) rc = sync_parent_directory(path, err, err_len);
    sodium_memzero(key, sizeof key);
    sodium_memzero(line, sizeof line);
    return rc;
}

int vault_write_new(const char *path, char *err, size_t err_len)
{
    return write_new_key(path, err, err_len) == 0 ? 0 : -1;
}

/* Another process created the key file just before us: read it, waiting up
 * to ten seconds while it is still empty (created, not yet written: its
 * fsync can take that long on a loaded disk). */
static int read_key_file_of_other_process(const char *path,
                                          unsigned char key[VAULT_KEY_LEN], char *err,
                                          size_t err_len)
{
    const struct timespec pause = {0, 25 * 1000 * 1000};
    int rc = READ_EMPTY;
    for (int attempt = 0; attempt < 400 && rc == READ_EMPTY; attempt++) {
        if (attempt > 0) nanosleep(&pause, NULL);
        rc = read_key_file(path, key, err, err_len);
    }
    return rc;
}

/* Reads PATH into V's key, creating the file first when it is missing and
 * CREATE is set.  0 (*created set when we made it) or -1 with a message. */
static int load_or_create(const char *path, int create, int *created, vault *v, char *err,
                          size_t err_len)
{
    int rc = read_key_file(path, v->key, err, err_len);
    if (rc == READ_EMPTY && create) /* another process created it, is writing it */
        rc = read_key_file_of_other_process(path, v->key, err, err_len);
    if (rc != READ_MISSING || !create) return rc == 0 ? 0 : -1;
    rc = write_new_key(path, err, err_len);
    if (rc == WRITE_EXISTS)
        rc = read_key_file_of_other_process(path, v->key, err, err_len);
    else if (rc == 0 && (rc = read_key_file(path, v->key, err, err_len)) == 0)
        *created = 1;
    return rc == 0 ? 0 : -1;
}

int vault_load(const char *path, int create, int *created, vault **out, char *err,
               size_t err_len)
{
    int created_here = 0;
    *out = NULL;
    if (created) *created = 0;
    vault *v = sodium_malloc(sizeof *v);
    if (!v) return fail(err, err_len, "%s: out of memory for the key", path);
    if (load_or_create(path, create, &created_here, v, err, err_len) != 0) {
        vault_free(v);
        return -1;
    }
    if (created) *created = created_here;
    *out = v;
    return 0;
}

void vault_free(vault *v)
{
    if (!v) return;
    sodium_memzero(v->key, sizeof v->key);
    sodium_free(v);
}

void vault_key_id(const vault *v, char out[17])
{
    static const unsigned char personal[crypto_generichash_blake2b_PERSONALBYTES] =
        "nudge-key-id-v1";
    unsigned char digest[crypto_generichash_blake2b_BYTES_MIN];
    crypto_generichash_blake2b_salt_personal(digest, sizeof digest, v->key, sizeof v->key,
                                             NULL, 0, NULL, personal);
    vault_hex(digest, 8, out);
}

void vault_random_key(unsigned char out[VAULT_KEY_LEN])
{
    randombytes_buf(out, VAULT_KEY_LEN);
}

void vault_hex(const unsigned char *bin, size_t len, char *out)
{
    sodium_bin2hex(out, 2 * len + 1, bin, len);
}

/* ---- sealing and field encryption --------------------------------------- */

/* Encrypts LEN bytes of PLAIN under KEY with LABEL as associated data into
 * OUT (LEN + VAULT_OVERHEAD bytes): random nonce, ciphertext, tag. */
static int aead_encrypt(const unsigned char key[VAULT_KEY_LEN], const char *label,
                        const unsigned char *plain, size_t len, unsigned char *out)
{
    unsigned long long cipher_len = 0;
    randombytes_buf(out, VAULT_NONCE_LEN);
    return crypto_aead_xchacha20poly1305_ietf_encrypt(
               out + VAULT_NONCE_LEN, &cipher_len, plain, len,
               (const unsigned char *)label, strlen(label), NULL, out, key) == 0
               ? 0
               : -1;
}

/* Opens IN (LEN bytes, at least VAULT_OVERHEAD) written by aead_encrypt
 * into PLAIN (LEN - VAULT_OVERHEAD bytes).  0, or -1 if it does not verify. */
static int aead_decrypt(const unsigned char key[VAULT_KEY_LEN], const char *label,
                        const unsigned char *in, size_t len, unsigned char *plain)
{
    unsigned long long plain_len = 0;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(
               plain, &plain_len, NULL, in + VAULT_NONCE_LEN, len - VAULT_NONCE_LEN,
               (const unsigned char *)label, strlen(label), in, key) == 0
               ? 0
               : -1;
}

int vault_seal(const vault *v, const char *label,
               const unsigned char secret[VAULT_KEY_LEN],
               unsigned char out[VAULT_SEALED_LEN])
{
    if (!v || !label) return -1;
    return aead_encrypt(v->key, label, secret, VAULT_KEY_LEN, out);
}

int vault_unseal(const vault *v, const char *label, const unsigned char *sealed,
                 size_t len, unsigned char secret[VAULT_KEY_LEN])
{
    sodium_memzero(secret, VAULT_KEY_LEN);
    if (!v || !label || !sealed || len != VAULT_SEALED_LEN) return -1;
    if (aead_decrypt(v->key, label, sealed, len, secret) == 0) return 0;
    sodium_memzero(secret, VAULT_KEY_LEN);
    return -1;
}

int vault_encrypt(const unsigned char key[VAULT_KEY_LEN], const char *label,
                  const char *plain, size_t len, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!label || (!plain && len > 0)) return -1;
    if (len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
        len > SIZE_MAX - VAULT_OVERHEAD)
        return -1;
    unsigned char *cipher = malloc(len + VAULT_OVERHEAD);
    if (!cipher) return -1;
    if (aead_encrypt(key, label, (const unsigned char *)(plain ? plain : ""), len,
                     cipher) != 0) {
        free(cipher);
        return -1;
    }
    *out = cipher;
    *out_len = len + VAULT_OVERHEAD;
    return 0;
}

int vault_decrypt(const unsigned char key[VAULT_KEY_LEN], const char *label,
                  const unsigned char *in, size_t len, char **plain, size_t *plain_len)
{
    *plain = NULL;
    *plain_len = 0;
    if (!label || !in || len < VAULT_OVERHEAD) return -1;
    size_t text_len = len - VAULT_OVERHEAD;
    unsigned char *text = malloc(text_len + 1);
    if (!text) return -1;
    if (aead_decrypt(key, label, in, len, text) != 0) {
        free(text);
        return -1;
    }
    text[text_len] = '\0';
    *plain = (char *)text;
    *plain_len = text_len;
    return 0;
}

/* ---- blind index ------------------------------------------------------- */

int vault_blind(const unsigned char index_key[VAULT_KEY_LEN], const char *kind,
                const char *value, unsigned char out[32], char *err, size_t err_len)
{
    char input[512]; /* kind ":" normalized value */
    if (!kind || (strcmp(kind, "email") != 0 && strcmp(kind, "phone") != 0))
        return fail(err, err_len,
                    "blind index: unknown kind '%s' (only email and phone are indexed)",
                    kind ? kind : "(null)");
    if (!value) return fail(err, err_len, "blind index: no %s given", kind);
    size_t prefix_len = (size_t)snprintf(input, sizeof input, "%s:", kind);
    int rc = pii_normalize(kind, value, "meta", input + prefix_len,
                           sizeof input - prefix_len, err, err_len);
    if (rc == 0 && crypto_generichash(out, 32, (const unsigned char *)input,
                                      strlen(input), index_key, VAULT_KEY_LEN) != 0)
        rc = fail(err, err_len, "blind index: hashing failed");
    sodium_memzero(input, sizeof input);
    return rc == 0 ? 0 : -1;
}
