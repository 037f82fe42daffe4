/*
 * message.c - ownership helpers for messages and ready batches.
 *
 * Messages built by the core own deep copies of their entries (and each
 * entry's data) and of snapshot chunk data; raft_message_free_parts()
 * releases them.  Nothing here can fail.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

void raft__entries_free(struct raft_entry *e, size_t n)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(e[i].data);
    free(e);
}

void raft_message_free_parts(struct raft_message *m)
{
    if (m == NULL)
        return;
    raft__entries_free(m->entries, m->n_entries);
    m->entries = NULL;
    m->n_entries = 0;
    free(m->snap_data);
    m->snap_data = NULL;
    m->snap_len = 0;
}

static void free_msgs(struct raft_message *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        raft_message_free_parts(&v[i]);
    free(v);
}

void raft_ready_free(struct raft_ready *rd)
{
    if (rd == NULL)
        return;
    free(rd->chunk.data);
    raft__entries_free(rd->entries, rd->n_entries);
    free_msgs(rd->msgs, rd->n_msgs);
    free_msgs(rd->msgs_after_persist, rd->n_msgs_after_persist);
    raft__entries_free(rd->committed, rd->n_committed);
    free(rd->reads);
    memset(rd, 0, sizeof(*rd));
}
