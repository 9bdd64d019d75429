/* Turns at the write lock, a mutex with a condition: one holder at a
 * time, and a waiting deliverer goes before the engine (write_turn.h). */
#include "write_turn.h"

#include <pthread.h>
#include <stdlib.h>

struct write_turn {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int held;               /* a turn is taken */
    int deliverers_waiting; /* they go first */
};

write_turn *write_turn_new(void)
{
    write_turn *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->changed, NULL);
    return t;
}

void write_turn_free(write_turn *t)
{
    if (!t) return;
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->changed);
    free(t);
}

void write_turn_enter(write_turn *t, enum write_role role)
{
    pthread_mutex_lock(&t->lock);
    int deliverer = role == TURN_DELIVERER;
    t->deliverers_waiting += deliverer;
    while (t->held || (!deliverer && t->deliverers_waiting))
        pthread_cond_wait(&t->changed, &t->lock);
    t->deliverers_waiting -= deliverer;
    t->held = 1;
    pthread_mutex_unlock(&t->lock);
}

void write_turn_leave(write_turn *t)
{
    pthread_mutex_lock(&t->lock);
    t->held = 0;
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
}
