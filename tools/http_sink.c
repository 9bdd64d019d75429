/* http_sink: a local HTTP endpoint for the delivery bench (libmicrohttpd).
 * Usage: http_sink [--port N] [--port-file F] [--max-seconds N] [--threads N].
 * Answers every request 200 {"ok":true}; on SIGTERM/SIGINT prints "requests N". */
#define _POSIX_C_SOURCE 200809L /* sigtimedwait, pthread_sigmask, clock_gettime */
#include "tool_args.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOOL "http_sink"
#define BODY "{\"ok\":true}"

struct options {
    uint16_t port;
    const char *port_file;
    uint64_t max_seconds;
    unsigned threads;
};

static atomic_ulong request_count;
static struct MHD_Response *ok_response;
/* The address of this marks a request whose headers were seen. */
static char request_started;

_Noreturn static void usage(const char *why)
{
    if (why) fprintf(stderr, TOOL ": %s\n", why);
    fprintf(stderr, "usage: " TOOL " [--port N] [--port-file FILE] [--max-seconds N]"
                    " [--threads N]\n");
    exit(2);
}

static struct options parse_options(int argc, char **argv)
{
    struct options o = {0, NULL, 600, 2};
    for (int i = 1; i < argc; i += 2) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(flag, "--port") == 0)
            o.port = (uint16_t)tool_parse_count(TOOL, value, flag, 0, 65535);
        else if (strcmp(flag, "--port-file") == 0 && value)
            o.port_file = value;
        else if (strcmp(flag, "--max-seconds") == 0)
            o.max_seconds = tool_parse_count(TOOL, value, flag, 1, 86400 * 365);
        else if (strcmp(flag, "--threads") == 0)
            o.threads = (unsigned)tool_parse_count(TOOL, value, flag, 1, 64);
        else if (strcmp(flag, "-h") == 0 || strcmp(flag, "--help") == 0)
            usage(NULL);
        else
            usage("unknown argument, or an option without its value");
    }
    return o;
}

/* MHD calls this once for the headers, once per upload chunk, and once at
 * the end of the upload; the answer goes out on the last call. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **request_state)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload_data;
    if (*request_state == NULL) {
        *request_state = &request_started;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* read and dropped */
        return MHD_YES;
    }
    atomic_fetch_add_explicit(&request_count, 1, memory_order_relaxed);
    return MHD_queue_response(connection, MHD_HTTP_OK, ok_response);
}

/* One response shared by every request (MHD reference-counts it). */
static int make_response(void)
{
    static const char body[] = BODY;
    ok_response = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
                                                  MHD_RESPMEM_PERSISTENT);
    return ok_response &&
           MHD_add_response_header(ok_response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                   "application/json") == MHD_YES;
}

/* Listens on 127.0.0.1:port (0: any free port) with a pool of epoll threads. */
static struct MHD_Daemon *start_daemon(const struct options *o)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(o->port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    return MHD_start_daemon(flags, o->port, NULL, NULL, on_request, NULL,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_THREAD_POOL_SIZE, o->threads,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
}

/* Writes the port to FILE.tmp, then renames it, so a reader never sees half. */
static int write_port_file(const char *file, uint16_t port)
{
    size_t length = strlen(file) + sizeof ".tmp";
    char *tmp = malloc(length);
    if (!tmp) return 0;
    snprintf(tmp, length, "%s.tmp", file);
    FILE *out = fopen(tmp, "w");
    int ok = out && fprintf(out, "%u\n", (unsigned)port) > 0;
    ok = out && fclose(out) == 0 && ok;
    ok = ok && rename(tmp, file) == 0;
    if (!ok) perror(TOOL ": port file");
    if (!ok) remove(tmp);
    free(tmp);
    return ok;
}

/* Waits for SIGTERM or SIGINT (blocked in every thread), or the time limit. */
static void wait_for_stop(const sigset_t *stop_signals, uint64_t max_seconds)
{
    struct timespec now, deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)max_seconds;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec >= deadline.tv_sec) return;
        struct timespec left = {deadline.tv_sec - now.tv_sec, 0};
        if (sigtimedwait(stop_signals, NULL, &left) > 0) return;
    }
}

int main(int argc, char **argv)
{
    struct options o = parse_options(argc, argv);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    /* Blocked before MHD starts its threads, so they inherit the mask. */
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    if (!make_response()) {
        fprintf(stderr, TOOL ": cannot build the response\n");
        return 1;
    }
    struct MHD_Daemon *daemon = start_daemon(&o);
    if (!daemon) {
        fprintf(stderr, TOOL ": cannot listen on 127.0.0.1:%u\n", (unsigned)o.port);
        return 1;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    uint16_t port = info ? info->port : o.port;
    int ok = port != 0 && (!o.port_file || write_port_file(o.port_file, port));
    if (ok) wait_for_stop(&stop_signals, o.max_seconds);
    MHD_stop_daemon(daemon);
    MHD_destroy_response(ok_response);
    printf("requests %lu\n", atomic_load(&request_count));
    return ok && fflush(stdout) == 0 ? 0 : 1;
}
