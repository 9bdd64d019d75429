/* The group-commit queue between `nudge serve`'s request threads and its
 * engine thread (intake.h).  One mutex, a condition for the engine thread
 * (work came) and one for the submitters (a batch finished). */
#include "intake.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct intake {
    pthread_mutex_t lock;
    pthread_cond_t work, finished;
    intake_request *head, *tail;
    int waiting, closed, kicked;
};

intake *intake_new(void)
{
    intake *q = calloc(1, sizeof *q);
    pthread_condattr_t attr;
    if (!q) return NULL;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->work, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&q->finished, NULL);
    return q;
}

void intake_free(intake *q)
{
    if (!q) return;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->finished);
    free(q);
}

int intake_submit(intake *q, intake_request *r)
{
    pthread_mutex_lock(&q->lock);
    if (q->closed) return pthread_mutex_unlock(&q->lock), -1;
    r->done = 0, r->rc = -1, r->next = NULL;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->waiting++;
    pthread_cond_signal(&q->work);
    while (!r->done)
        pthread_cond_wait(&q->finished, &q->lock);
    int rc = r->rc;
    pthread_mutex_unlock(&q->lock);
    return rc;
}

static void deadline_after(int64_t ms, struct timespec *at)
{
    clock_gettime(CLOCK_MONOTONIC, at);
    at->tv_sec += ms / 1000;
    at->tv_nsec += (ms % 1000) * 1000000;
    if (at->tv_nsec >= 1000000000) at->tv_sec++, at->tv_nsec -= 1000000000;
}

intake_request *intake_take(intake *q, int64_t timeout_ms, int max_events,
                            int64_t ready)
{
    struct timespec at;
    deadline_after(timeout_ms > 0 ? timeout_ms : 0, &at);
    pthread_mutex_lock(&q->lock);
    while (!q->head && !q->kicked &&
           pthread_cond_timedwait(&q->work, &q->lock, &at) != ETIMEDOUT)
        ;
    q->kicked = 0;
    intake_request *list = q->head, *last = NULL;
    int events = 0;
    for (intake_request *r = q->head;
         r && r->after <= ready && (!last || events + r->count <= max_events); r = r->next)
        last = r, events += r->count, q->waiting--;
    if (last) {
        q->head = last->next;
        if (!q->head) q->tail = NULL;
        last->next = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    return last ? list : NULL;
}

void intake_finish(intake *q, intake_request *list, int rc)
{
    pthread_mutex_lock(&q->lock);
    for (intake_request *r = list, *next; r; r = next) {
        next = r->next; /* R lives on its submitter's stack: read it first */
        r->rc = rc, r->done = 1;
    }
    pthread_cond_broadcast(&q->finished);
    pthread_mutex_unlock(&q->lock);
}

void intake_kick(intake *q)
{
    pthread_mutex_lock(&q->lock);
    q->kicked = 1;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->lock);
}

void intake_close(intake *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->lock);
}

int intake_waiting(intake *q)
{
    pthread_mutex_lock(&q->lock);
    int n = q->waiting;
    pthread_mutex_unlock(&q->lock);
    return n;
}
