/*
 * autocompact_glue.h - automatic compaction in metastored: the leader runs
 * the decision of server/autocompact.h on every tick and proposes what it
 * decides as an ordinary COMPACT entry (the client Compact's method and
 * body), so every replica compacts at the same revision in log order.
 * Private to server/.
 */
#ifndef METASTORE_SERVER_AUTOCOMPACT_GLUE_H
#define METASTORE_SERVER_AUTOCOMPACT_GLUE_H

#include <stdint.h>

struct srv;
struct metrics;

/* Called from the node's tick.  Does nothing unless compaction.mode is not
 * off, this node leads and the first entry of its term has applied (its
 * revisions are then current).  Allocates its state on first use. */
void srv_autocompact_tick(struct srv *s, uint64_t now_ns);

/* metastore_auto_compactions_total: COMPACT entries this node proposed as
 * leader (each also logged once, with revision and reason). */
void srv_autocompact_collect_metrics(struct metrics *m, struct srv *s);

/* Frees the state (safe when none was allocated). */
void srv_autocompact_close(struct srv *s);

#endif
