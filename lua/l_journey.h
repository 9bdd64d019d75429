/* The journey handle `j` that a recipe's run(j) receives. */
#ifndef NUDGE_L_JOURNEY_H
#define NUDGE_L_JOURNEY_H
#include "activation.h"

#include <lua.h>

/* Pushes a handle bound to activation `a` running on thread `co`; j.trigger
 * is decoded from the instance's trigger event on first use.  [-0, +1, m] */
void l_journey_push(lua_State *L, activation *a, lua_State *co);

/* Detaches the handle at `index` from its activation: later calls raise. */
void l_journey_detach(lua_State *L, int index);

#endif
