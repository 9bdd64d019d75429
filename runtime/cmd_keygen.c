/* `nudge keygen`: writes a new master key file.  `nudge keygen --rotate`:
 * re-seals every profile key and the blind-index key under a new master
 * key, without touching the encrypted data.  The new key is written to
 * KEY.new first; the re-sealing commits; then KEY.new replaces KEY.  A
 * crash between the two leaves KEY.new, which the next start adopts
 * (privacy_open). */
#include "cli.h"
#include "log.h"
#include "vault.h"

#include <stdio.h>
#include <unistd.h>

static int rotate(cli *c)
{
    char next[4096], err[800], old_id[17], new_id[17];
    store *s;
    privacy *p = NULL;
    if (store_open(c->db_path, &s, err, sizeof err)) return log_error("%s", err), 1;
    int rc = cli_open_privacy(c, s, &p) ? -1 : 0;
    snprintf(next, sizeof next, "%s.new", c->cfg.key_file);
    if (!rc && !access(next, F_OK) && unlink(next)) /* a rotation that never committed */
        rc = -1, log_error("%s: cannot remove a stale new key: %m", next);
    if (!rc && vault_write_new(next, err, sizeof err)) rc = -1, log_error("%s", err);
    if (!rc && (store_begin(s) || privacy_reseal(p, s, next, err, sizeof err)))
        rc = -1, log_error("%s", err), store_rollback(s), unlink(next);
    if (!rc && store_commit(s)) rc = -1, unlink(next);
    if (!rc && rename(next, c->cfg.key_file))
        rc = -1, log_error("%s: cannot replace the key (the new one is %s): %m",
                           c->cfg.key_file, next);
    if (!rc) {
        vault *v;
        privacy_key_id(p, old_id);
        if (!vault_load(c->cfg.key_file, 0, NULL, &v, err, sizeof err))
            vault_key_id(v, new_id), vault_free(v);
        printf("key rotated: %s now holds key %s (was %s)\n", c->cfg.key_file, new_id,
               old_id);
    }
    privacy_free(p);
    store_close(s);
    return rc ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_keygen(cli *c)
{
    char err[800];
    if (c->arg_count) {
        fprintf(stderr, "nudge: usage: nudge keygen [--rotate]\n");
        return EXIT_USAGE;
    }
    if (c->rotate) return rotate(c);
    if (!access(c->cfg.key_file, F_OK)) {
        log_error("%s exists already; `nudge keygen --rotate` replaces it",
                  c->cfg.key_file);
        return EXIT_FAILURE_RUNTIME;
    }
    if (vault_write_new(c->cfg.key_file, err, sizeof err))
        return log_error("%s", err), EXIT_FAILURE_RUNTIME;
    printf("wrote %s (mode 0600): keep it safe and out of version control\n",
           c->cfg.key_file);
    return EXIT_OK;
}
