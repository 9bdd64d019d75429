/* `nudge serve`: takes the database's lock, opens what `nudge run` opens,
 * starts the engine thread and the HTTP server, then waits for signals:
 * SIGHUP reloads, SIGTERM and SIGINT stop (intake first, then what is in
 * hand, then delivery) and exit 0.  See docs/service.md. */
#include "cli.h"
#include "log.h"
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define MAX_WRITE_KEYS 64

/* DB.lock, held (flock) while the service runs; it holds the pid.  The fd,
 * or -1 (logged) when another service has it. */
static int take_lock(const char *db_path)
{
    char path[4200], pid[32] = "";
    snprintf(path, sizeof path, "%s.lock", db_path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return log_error("cannot open the lock file %s: %m", path), -1;
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        ssize_t n = read(fd, pid, sizeof pid - 1);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        log_error("another nudge serve (pid %s) is using %s; stop it first (%s is held)",
                  pid[0] ? pid : "?", db_path, path);
        return close(fd), -1;
    }
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) || pwrite(fd, pid, strlen(pid), 0) < 0)
        log_warn("cannot write the pid into %s: %m", path);
    return fd;
}

/* The write keys from the variable server.write_keys_env names (comma
 * separated).  COUNT 0 without one.  0, or -1 (logged) when it is unset. */
static int read_write_keys(const config *cfg, char *keys[], int *count)
{
    *count = 0;
    if (!cfg->server_write_keys_env) return 0;
    const char *value = getenv(cfg->server_write_keys_env);
    if (!value || !value[0])
        return log_error("key 'server.write_keys_env': environment variable %s is not "
                         "set (comma-separated write keys)",
                         cfg->server_write_keys_env),
               -1;
    char *copy = strdup(value), *save = NULL;
    for (char *k = strtok_r(copy, ", ", &save); k && *count < MAX_WRITE_KEYS;
         k = strtok_r(NULL, ", ", &save))
        keys[(*count)++] = strdup(k);
    free(copy);
    return 0;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) || rename(tmp, path))
        return log_error("cannot write the port file %s: %m", path), -1;
    return 0;
}

/* Waits for SIGTERM or SIGINT (SIGHUP asks the engine thread to reload),
 * or for the engine thread to fail. */
static void wait_for_signals(serve_state *sv, const sigset_t *set)
{
    struct timespec tick = {0, 200 * 1000000};
    for (int ticks = 1;; ticks++) {
        /* the engine's commits never checkpoint (a 32 MB checkpoint inside
         * a commit would stall every request waiting on it): this thread
         * does, beside them, once a second */
        if (ticks % 5 == 0)
            store_run(sv->checkpointer, "PRAGMA wal_checkpoint(PASSIVE)", NULL, NULL, 0);
        int sig = sigtimedwait(set, NULL, &tick);
        if (sig == SIGHUP) __atomic_store_n(&sv->reload, 1, __ATOMIC_RELEASE);
        if (sig == SIGTERM || sig == SIGINT) {
            log_warn("serve: %s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return;
        }
        if (__atomic_load_n(&sv->failed, __ATOMIC_ACQUIRE)) return;
    }
}

/* Opens the reader connection and the unsubscribe key. */
static int open_extras(serve_state *sv)
{
    char err[800];
    if (store_open(sv->c->db_path, &sv->reader, err, sizeof err) ||
        store_open(sv->c->db_path, &sv->checkpointer, err, sizeof err))
        return log_error("%s", err), -1;
    store_run(sv->run.store, "PRAGMA wal_autocheckpoint = 0", NULL, NULL, 0);
    return privacy_unsubscribe_key(sv->run.privacy, sv->run.store, sv->unsub_key);
}

/* Starts the server on the config's (or --listen's) address. */
static server *start_server(serve_state *sv, char *keys[], int key_count)
{
    cli *c = sv->c;
    char host[256], err[600];
    int port, pii_count;
    const char *listen = c->listen ? c->listen : c->cfg.server_listen;
    if (config_parse_listen(listen, host, sizeof host, &port))
        return log_error("--listen must be HOST:PORT, like 127.0.0.1:8080"), NULL;
    char *const *pii = privacy_fields(sv->run.privacy, &pii_count);
    server_options o = {
        host, port, keys, key_count, pii, pii_count, c->cfg.server_threads};
    server_hooks hooks = serve_hooks(sv);
    server *srv = server_start(&o, &hooks, err, sizeof err);
    if (!srv) return log_error("cannot listen on %s: %s", listen, err), NULL;
    log_warn("serve: listening on http://%s:%d (database %s)", host, server_port(srv),
             c->db_path);
    if (c->port_file && write_port_file(c->port_file, server_port(srv)))
        return server_stop(srv), NULL;
    return srv;
}

/* Stops in order: no new requests, those in hand answered, the engine's
 * last batch, then delivery.  After a failure the engine is gone, so the
 * waiting requests are refused first. */
static int stop_all(serve_state *sv, server *srv)
{
    __atomic_store_n(&sv->healthy, 0, __ATOMIC_RELEASE);
    int failed = __atomic_load_n(&sv->failed, __ATOMIC_ACQUIRE), rc;
    if (failed) {
        rc = serve_engine_stop(sv);
        server_stop(srv);
    } else {
        server_stop(srv);
        rc = serve_engine_stop(sv);
    }
    cli_print_summary(sv->c, &sv->run.stats, sv->run.store);
    return rc;
}

static void close_all(serve_state *sv, char *keys[], int key_count)
{
    run_close(&sv->run, sv->host);
    if (sv->reader) store_close(sv->reader);
    pthread_mutex_destroy(&sv->reader_lock);
    store_close(sv->checkpointer);
    inbox_close(sv->inbox_writer);
    inbox_close(sv->inbox_reader);
    intake_free(sv->intake);
    intake_free(sv->jobs);
    for (int i = 0; i < sv->old_config_count; i++)
        config_free(&sv->old_configs[i]);
    for (int i = 0; i < key_count; i++)
        free(keys[i]);
    sodium_memzero(sv->unsub_key, sizeof sv->unsub_key);
}

int cmd_serve(cli *c)
{
    static serve_state sv; /* large (old configs); one service per process */
    char *keys[MAX_WRITE_KEYS];
    int key_count = 0, rc = EXIT_FAILURE_RUNTIME;
    sigset_t set;
    if (c->clock && strcmp(c->clock, "wall"))
        return log_error("nudge serve runs on the wall clock"), EXIT_USAGE;
    if (read_write_keys(&c->cfg, keys, &key_count)) return EXIT_USAGE;
    int lock = take_lock(c->db_path);
    if (lock < 0) return EXIT_FAILURE_RUNTIME;
    /* the signals go to sigtimedwait; threads started below inherit the mask */
    sigemptyset(&set);
    sigaddset(&set, SIGHUP), sigaddset(&set, SIGTERM), sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    memset(&sv, 0, sizeof sv);
    sv.c = c;
    pthread_mutex_init(&sv.reader_lock, NULL);
    int opened = run_open(&sv.run, c, &sv.host);
    server *srv = NULL;
    if (opened == EXIT_OK && !open_extras(&sv) && !serve_engine_start(&sv) &&
        (srv = start_server(&sv, keys, key_count))) {
        wait_for_signals(&sv, &set);
        rc = stop_all(&sv, srv) ? EXIT_FAILURE_RUNTIME : EXIT_OK;
    } else {
        rc = opened == EXIT_OK ? EXIT_FAILURE_RUNTIME : opened;
        serve_engine_stop(&sv); /* whatever had started */
    }
    close_all(&sv, keys, key_count);
    close(lock);
    return rc;
}
