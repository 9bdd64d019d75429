/* Turns at SQLite's write lock between the threads of one process: the
 * engine and the delivery thread.  The engine holds its write transaction
 * for a whole batch and begins the next one as soon as it commits, so a
 * delivery thread left to SQLite's busy handler would almost never get
 * in.  With turns, a waiting deliverer writes between two of the engine's
 * batches, and the engine begins its next batch after that.  Other
 * processes still meet the busy handler. */
#ifndef NUDGE_WRITE_TURN_H
#define NUDGE_WRITE_TURN_H

typedef struct write_turn write_turn;

enum write_role { TURN_ENGINE, TURN_DELIVERER };

write_turn *write_turn_new(void);
void write_turn_free(write_turn *t);

/* Waits until ROLE may begin a write transaction: nobody else holds a
 * turn and, for the engine, no deliverer is waiting. */
void write_turn_enter(write_turn *t, enum write_role role);

/* Ends the turn taken (its transaction committed or rolled back). */
void write_turn_leave(write_turn *t);

#endif
