/* Unit tests for runtime/vault.c: the key file (create, load, refusals,
 * exclusive creation, a creation race), sealing, field encryption and blind
 * indexes.  Key files live in a mkdtemp directory removed at the end. */
#include "unit.h"
#include "vault.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RACERS 4

static char temp_dir[] = "/tmp/nudge-vault-XXXXXX";
static char err[512];

/* TEMP_DIR "/" NAME, in a rotating set of static buffers. */
static const char *temp_path(const char *name)
{
    static char paths[4][256];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s", temp_dir, name);
    return path;
}

static void write_file(const char *name, const char *text, size_t len, mode_t mode)
{
    const char *path = temp_path(name);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fchmod(fd, mode) != 0) {
        perror(path);
        exit(2);
    }
    close(fd);
}

static size_t read_file(const char *name, char *buf, size_t cap)
{
    FILE *f = fopen(temp_path(name), "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = '\0';
    return n;
}

/* vault_load without create; returns the vault or NULL with `err` set. */
static vault *load(const char *name)
{
    vault *v = NULL;
    err[0] = '\0';
    vault_load(temp_path(name), 0, NULL, &v, err, sizeof err);
    return v;
}

static int error_names(const char *name)
{
    return strstr(err, temp_path(name)) != NULL;
}

static void create_and_load(void)
{
    vault *created_vault = NULL, *loaded = NULL;
    int created = -1;
    CHECK(vault_load(temp_path("nudge.key"), 1, &created, &created_vault, err,
                     sizeof err) == 0,
          "key file: created when missing");
    CHECK(created == 1, "key file: created flag set");
    struct stat st;
    CHECK(stat(temp_path("nudge.key"), &st) == 0 && (st.st_mode & 07777) == 0600,
          "key file: mode 0600");
    char text[128];
    size_t len = read_file("nudge.key", text, sizeof text);
    CHECK(len == 58 && strncmp(text, "nudge-key-v1 ", 13) == 0 && text[57] == '\n',
          "key file: one line 'nudge-key-v1 <base64>'");
    created = -1;
    CHECK(vault_load(temp_path("nudge.key"), 1, &created, &loaded, err, sizeof err) == 0,
          "key file: loads again");
    CHECK(created == 0, "key file: created flag clear for an existing file");
    char id1[17], id2[17];
    vault_key_id(created_vault, id1);
    vault_key_id(loaded, id2);
    CHECK(strlen(id1) == 16 && strspn(id1, "0123456789abcdef") == 16,
          "key id: 16 hex characters");
    CHECK_STR(id1, id2, "key id: same key, same id");
    CHECK(strstr(text, id1) == NULL, "key id: not a piece of the key's base64");
    vault_free(created_vault);
    vault_free(loaded);
}

static void missing_and_exclusive(void)
{
    CHECK(load("absent.key") == NULL && error_names("absent.key"),
          "key file: missing without create fails, naming the path");
    CHECK(access(temp_path("absent.key"), F_OK) != 0, "key file: not created unasked");
    CHECK(vault_write_new(temp_path("other.key"), err, sizeof err) == 0,
          "vault_write_new: writes a key");
    char before[128], after[128];
    read_file("other.key", before, sizeof before);
    CHECK(vault_write_new(temp_path("other.key"), err, sizeof err) == -1,
          "vault_write_new: refuses an existing path (O_EXCL)");
    CHECK(error_names("other.key"), "vault_write_new: error names the path");
    read_file("other.key", after, sizeof after);
    CHECK_STR(after, before, "vault_write_new: existing key left as it was");
    vault *a = load("nudge.key"), *b = load("other.key");
    char id_a[17], id_b[17];
    vault_key_id(a, id_a);
    vault_key_id(b, id_b);
    CHECK(strcmp(id_a, id_b) != 0, "key id: different keys, different ids");
    vault_free(a);
    vault_free(b);
}

static void refusals(void)
{
    char text[128];
    size_t len = read_file("nudge.key", text, sizeof text);
    write_file("open.key", text, len, 0644);
    CHECK(load("open.key") == NULL, "refuses a 0644 key file");
    CHECK(error_names("open.key") &&
              strstr(err, "mode 0644 lets other users read the key; "
                          "chmod 600 it") != NULL,
          "0644 error names the path, the mode and the fix");
    write_file("group.key", text, len, 0620);
    CHECK(load("group.key") == NULL && strstr(err, "mode 0620") != NULL,
          "refuses a group-writable key file");
    write_file("short.key", text, 30, 0600);
    CHECK(load("short.key") == NULL && error_names("short.key"),
          "refuses a truncated key file, naming the path");
    char kept_base64[18];
    snprintf(kept_base64, sizeof kept_base64, "%.17s", text + 13);
    CHECK(strstr(err, kept_base64) == NULL && strstr(err, "nudge-key-v1 ") == NULL,
          "truncated-file error shows no key material");
    write_file("garbage.key", "hello world\n", 12, 0600);
    CHECK(load("garbage.key") == NULL && error_names("garbage.key"),
          "refuses a garbage key file, naming the path");
    write_file("empty.key", "", 0, 0600);
    CHECK(load("empty.key") == NULL && error_names("empty.key"),
          "refuses an empty key file");
    const char *sixteen = "nudge-key-v1 AAAAAAAAAAAAAAAAAAAAAA==\n";
    write_file("sixteen.key", sixteen, strlen(sixteen), 0600);
    CHECK(load("sixteen.key") == NULL && strstr(err, "16 bytes") != NULL,
          "refuses a 16-byte key");
    const char *bad64 = "nudge-key-v1 !!!!AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    write_file("bad64.key", bad64, strlen(bad64), 0600);
    CHECK(load("bad64.key") == NULL && error_names("bad64.key"),
          "refuses a key that is not base64");
    text[len - 1] = '\0';
    write_file("no-newline.key", text, len - 1, 0600);
    vault *v = load("no-newline.key");
    CHECK(v != NULL, "accepts a key line without its final newline");
    vault_free(v);
}

/* Forks a process that loads-or-creates race.key and writes "C ID" (C: 1 if
 * it created the file) to FDS[1]. */
static pid_t fork_racer(int fds[2])
{
    pid_t pid = fork();
    if (pid != 0) {
        close(fds[1]);
        return pid;
    }
    close(fds[0]);
    vault *v = NULL;
    int created = 0;
    char line[19], id[17];
    if (vault_load(temp_path("race.key"), 1, &created, &v, err, sizeof err) == 0) {
        vault_key_id(v, id);
        snprintf(line, sizeof line, "%d %s", created, id);
        if (write(fds[1], line, 18) != 18) _exit(1);
    }
    vault_free(v);
    _exit(0);
}

/* RACERS processes create the same missing key file at once: exactly one
 * creates it and all end up with the same key. */
static void creation_race(void)
{
    int pipes[RACERS][2];
    for (int i = 0; i < RACERS; i++) {
        if (pipe(pipes[i]) != 0 || fork_racer(pipes[i]) < 0) {
            perror("race");
            exit(2);
        }
    }
    char ids[RACERS][19];
    int creators = 0, agree = 1, loaded = 1;
    for (int i = 0; i < RACERS; i++) {
        memset(ids[i], 0, sizeof ids[i]);
        ssize_t n = read(pipes[i][0], ids[i], 18);
        close(pipes[i][0]);
        loaded &= n == 18;
        creators += ids[i][0] == '1';
        agree &= strcmp(ids[i] + 2, ids[0] + 2) == 0;
    }
    while (wait(NULL) > 0)
        ;
    CHECK(loaded, "race: every process loads the key");
    CHECK(creators == 1, "race: exactly one process creates it");
    CHECK(agree, "race: all processes have the same key");
}

static void seal_and_unseal(void)
{
    vault *master = load("nudge.key"), *other = load("other.key");
    unsigned char secret[VAULT_KEY_LEN], opened[VAULT_KEY_LEN];
    unsigned char sealed[VAULT_SEALED_LEN], again[VAULT_SEALED_LEN];
    vault_random_key(secret);
    CHECK(VAULT_SEALED_LEN == 24 + 32 + 16, "sealed length: nonce + key + tag");
    CHECK(vault_seal(master, "profile:u123", secret, sealed) == 0, "seal");
    CHECK(vault_unseal(master, "profile:u123", sealed, sizeof sealed, opened) == 0 &&
              memcmp(opened, secret, sizeof secret) == 0,
          "unseal gives back the secret");
    CHECK(memmem(sealed, sizeof sealed, secret, sizeof secret) == NULL,
          "sealed bytes do not contain the secret");
    vault_seal(master, "profile:u123", secret, again);
    CHECK(memcmp(sealed, again, sizeof sealed) != 0, "sealing twice: fresh nonces");
    CHECK(vault_unseal(other, "profile:u123", sealed, sizeof sealed, opened) == -1,
          "unseal with another master key fails");
    CHECK(vault_unseal(master, "profile:u124", sealed, sizeof sealed, opened) == -1,
          "unseal under another label fails");
    int tamper_caught = 0;
    for (size_t i = 0; i < sizeof sealed; i++) {
        sealed[i] ^= 0x01;
        tamper_caught +=
            vault_unseal(master, "profile:u123", sealed, sizeof sealed, opened) == -1;
        sealed[i] ^= 0x01;
    }
    CHECK(tamper_caught == VAULT_SEALED_LEN, "any flipped byte (nonce, body, tag) fails");
    CHECK(vault_unseal(master, "profile:u123", sealed, sizeof sealed - 1, opened) == -1,
          "unseal of a short input fails");
    CHECK(sodium_is_zero(opened, sizeof opened), "failed unseal leaves zeros");
    vault_free(master);
    vault_free(other);
}

static void encrypt_and_decrypt(void)
{
    unsigned char key[VAULT_KEY_LEN], other_key[VAULT_KEY_LEN];
    vault_random_key(key);
    vault_random_key(other_key);
    const char *email = "john.smith@example.com";
    size_t len = strlen(email), cipher_len = 0, plain_len = 0;
    unsigned char *cipher = NULL;
    char *plain = NULL;
    CHECK(vault_encrypt(key, "u123/email", email, len, &cipher, &cipher_len) == 0 &&
              cipher_len == len + VAULT_OVERHEAD,
          "encrypt: nonce + ciphertext + tag");
    CHECK(memmem(cipher, cipher_len, email, len) == NULL &&
              memmem(cipher, cipher_len, "example", 7) == NULL,
          "ciphertext does not contain the plaintext");
    CHECK(vault_decrypt(key, "u123/email", cipher, cipher_len, &plain, &plain_len) == 0 &&
              plain_len == len && strcmp(plain, email) == 0,
          "decrypt gives back the plaintext, NUL-terminated");
    free(plain);
    CHECK(vault_decrypt(key, "u124/email", cipher, cipher_len, &plain, &plain_len) ==
                  -1 &&
              plain == NULL,
          "decrypt under another label fails");
    CHECK(vault_decrypt(other_key, "u123/email", cipher, cipher_len, &plain,
                        &plain_len) == -1,
          "decrypt with another key fails");
    cipher[cipher_len / 2] ^= 0x80;
    CHECK(vault_decrypt(key, "u123/email", cipher, cipher_len, &plain, &plain_len) == -1,
          "decrypt of tampered ciphertext fails");
    CHECK(vault_decrypt(key, "u123/email", cipher, VAULT_OVERHEAD - 1, &plain,
                        &plain_len) == -1,
          "decrypt of a too-short input fails");
    free(cipher);
    CHECK(vault_encrypt(key, "u123/note", "", 0, &cipher, &cipher_len) == 0 &&
              vault_decrypt(key, "u123/note", cipher, cipher_len, &plain, &plain_len) ==
                  0 &&
              plain_len == 0 && plain[0] == '\0',
          "empty plaintext round trip");
    free(cipher);
    free(plain);
}

static int blind(const unsigned char *key, const char *kind, const char *value,
                 unsigned char out[32])
{
    err[0] = '\0';
    return vault_blind(key, kind, value, out, err, sizeof err);
}

static void blind_index(void)
{
    unsigned char key[VAULT_KEY_LEN], other_key[VAULT_KEY_LEN];
    unsigned char a[32], b[32];
    vault_random_key(key);
    vault_random_key(other_key);
    CHECK(blind(key, "email", " John@Example.com ", a) == 0 &&
              blind(key, "email", "john@example.com", b) == 0 && memcmp(a, b, 32) == 0,
          "blind: email normalized before hashing");
    blind(other_key, "email", "john@example.com", b);
    CHECK(memcmp(a, b, 32) != 0, "blind: another key, another index");
    CHECK(blind(key, "phone", "+1 (555) 123-4567", a) == 0 &&
              blind(key, "phone", "15551234567", b) == 0 && memcmp(a, b, 32) == 0,
          "blind: phone +1 (555) 123-4567 equals 15551234567");
    blind(key, "email", "john@example.com", a);
    blind(key, "phone", "+15551234567", b);
    CHECK(memcmp(a, b, 32) != 0, "blind: kinds differ");
    /* The documented construction, recomputed here. */
    unsigned char expected[32];
    crypto_generichash(expected, 32, (const unsigned char *)"phone:15551234567", 17, key,
                       VAULT_KEY_LEN);
    CHECK(memcmp(b, expected, 32) == 0, "blind: keyed BLAKE2b-256 of kind:normalized");
    char hex[65];
    vault_hex(b, 32, hex);
    CHECK(strlen(hex) == 64 && strspn(hex, "0123456789abcdef") == 64, "vault_hex");
    CHECK(blind(key, "first_name", "Zebulon", a) == -1 &&
              strstr(err, "first_name") != NULL,
          "blind: other kinds refused, naming the kind");
    CHECK(strstr(err, "Zebulon") == NULL, "blind: kind error does not echo the value");
    CHECK(blind(key, "phone", "0612345678", a) == -1 && err[0] != '\0' &&
              strstr(err, "0612345678") == NULL,
          "blind: bad phone errors without echoing the value");
    CHECK(blind(key, "email", "secret-not-an-email", a) == -1 &&
              strstr(err, "secret-not-an-email") == NULL,
          "blind: bad email errors without echoing the value");
}

static void remove_temp_dir(void)
{
    static const char *names[] = {"nudge.key",      "other.key",   "open.key",
                                  "group.key",      "short.key",   "garbage.key",
                                  "empty.key",      "sixteen.key", "bad64.key",
                                  "no-newline.key", "race.key"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(temp_path(names[i]));
    CHECK(rmdir(temp_dir) == 0, "temp directory removed");
}

int main(void)
{
    if (vault_init() != 0 || !mkdtemp(temp_dir)) return 1;
    create_and_load();
    missing_and_exclusive();
    refusals();
    creation_race();
    seal_and_unseal();
    encrypt_and_decrypt();
    blind_index();
    remove_temp_dir();
    UNIT_DONE();
}
