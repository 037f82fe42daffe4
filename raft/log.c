/*
 * log.c - the Raft log as the core sees it.
 *
 * Durable entries are read through the caller's raft_storage; entries not
 * yet known to be durable live here, in the "unstable" tail, together with
 * a snapshot received from the leader and not yet persisted.  The driver
 * persists what ready batches hand out and then calls raft_persisted(),
 * which moves the boundary (raft__log_stable_to).
 *
 * Happy path: append to the tail, hand it out, learn it is durable, drop it
 * from the tail.  Failure modes: allocation failure (RAFT_ENOMEM, the log is
 * unchanged), storage errors passed through, RAFT_ECOMPACTED and
 * RAFT_EUNAVAILABLE for reads outside the log.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

int raft__log_init(struct raft__log *l, const struct raft_storage *st)
{
    memset(l, 0, sizeof(*l));
    l->st = *st;
    l->u_offset = st->last_index(st->data) + 1;
    l->u_handed = l->u_offset - 1;
    l->conf_hint = l->u_offset - 1;
    return 0;
}

void raft__log_close(struct raft__log *l)
{
    for (size_t i = 0; i < l->u_n; i++)
        free(l->u_ents[i].data);
    free(l->u_ents);
    memset(l, 0, sizeof(*l));
}

raft_index raft__log_first_index(const struct raft__log *l)
{
    if (l->u_has_snap)
        return l->u_snap.index + 1;
    return l->st.first_index(l->st.data);
}

raft_index raft__log_last_index(const struct raft__log *l)
{
    if (l->u_n > 0)
        return l->u_offset + l->u_n - 1;
    if (l->u_has_snap)
        return l->u_snap.index;
    return l->u_offset - 1;
}

raft_index raft__log_durable_index(const struct raft__log *l)
{
    return l->u_offset - 1;
}

int raft__log_term(const struct raft__log *l, raft_index i, raft_term *t)
{
    if (l->u_n > 0 && i >= l->u_offset && i < l->u_offset + l->u_n) {
        *t = l->u_ents[i - l->u_offset].term;
        return 0;
    }
    if (l->u_has_snap) {
        if (i == l->u_snap.index) {
            *t = l->u_snap.term;
            return 0;
        }
        if (i < l->u_snap.index)
            return RAFT_ECOMPACTED;
    }
    if (i > raft__log_last_index(l))
        return RAFT_EUNAVAILABLE;
    return l->st.term(l->st.data, i, t);
}

raft_term raft__log_term_or_zero(const struct raft__log *l, raft_index i)
{
    raft_term t = 0;
    if (raft__log_term(l, i, &t) != 0)
        return 0;
    return t;
}

raft_term raft__log_last_term(const struct raft__log *l)
{
    return raft__log_term_or_zero(l, raft__log_last_index(l));
}

bool raft__log_match_term(const struct raft__log *l, raft_index i, raft_term t)
{
    raft_term have = 0;
    if (raft__log_term(l, i, &have) != 0)
        return false;
    return have == t;
}

bool raft__log_up_to_date(const struct raft__log *l, raft_index lasti,
                          raft_term term)
{
    raft_term lt = raft__log_last_term(l);
    return term > lt || (term == lt && lasti >= raft__log_last_index(l));
}

static int reserve(struct raft__log *l, size_t n)
{
    if (n <= l->u_cap)
        return 0;
    size_t cap = l->u_cap ? l->u_cap : 16;
    while (cap < n)
        cap *= 2;
    struct raft_entry *v = realloc(l->u_ents, cap * sizeof(*v));
    if (v == NULL)
        return RAFT_ENOMEM;
    l->u_ents = v;
    l->u_cap = cap;
    return 0;
}

int raft__log_append(struct raft__log *l, const struct raft_entry *e, size_t n)
{
    if (n == 0)
        return 0;
    raft_index after = e[0].index;
    assert(after >= 1 && after <= raft__log_last_index(l) + 1);
    assert(!l->u_has_snap || after > l->u_snap.index);
    size_t keep;
    if (after >= l->u_offset)
        keep = (size_t)(after - l->u_offset);
    else
        keep = 0;
    if (keep > l->u_n)
        keep = l->u_n;
    /* Copy the data first so that failure leaves the log unchanged. */
    uint8_t **copies = calloc(n, sizeof(*copies));
    if (copies == NULL || reserve(l, keep + n) != 0) {
        free(copies);
        return RAFT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (e[i].len == 0)
            continue;
        copies[i] = malloc(e[i].len);
        if (copies[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                free(copies[j]);
            free(copies);
            return RAFT_ENOMEM;
        }
        memcpy(copies[i], e[i].data, e[i].len);
    }
    for (size_t i = keep; i < l->u_n; i++)
        free(l->u_ents[i].data);
    if (after < l->u_offset)
        l->u_offset = after; /* durable entries from `after` on are replaced */
    for (size_t i = 0; i < n; i++) {
        struct raft_entry *d = &l->u_ents[keep + i];
        *d = e[i];
        d->index = after + i;
        d->data = copies[i];
        if (d->type == RAFT_ENTRY_CONF_CHANGE && d->index > l->conf_hint)
            l->conf_hint = d->index;
    }
    l->u_n = keep + n;
    if (l->u_handed > after - 1)
        l->u_handed = after - 1;
    free(copies);
    return 0;
}

int raft__log_visit(const struct raft__log *l, raft_index lo, raft_index hi,
                    raft__visit_cb cb, void *arg)
{
    if (lo >= hi)
        return 0;
    if (lo < raft__log_first_index(l))
        return RAFT_ECOMPACTED;
    if (hi > raft__log_last_index(l) + 1)
        return RAFT_EUNAVAILABLE;
    raft_index i = lo;
    if (i < l->u_offset) {
        raft_index shi = hi < l->u_offset ? hi : l->u_offset;
        struct raft_entry buf[64];
        while (i < shi) {
            raft_index want = shi - i > 64 ? i + 64 : shi;
            size_t n = 0;
            int rc = l->st.entries(l->st.data, i, want, UINT64_MAX, buf, &n);
            if (rc != 0)
                return rc;
            if (n == 0)
                return RAFT_ESTORAGE;
            for (size_t k = 0; k < n; k++) {
                if (buf[k].index != i + k)
                    return RAFT_ESTORAGE;
                if (!cb(arg, &buf[k]))
                    return 0;
            }
            i += n;
        }
    }
    for (; i < hi; i++) {
        if (!cb(arg, &l->u_ents[i - l->u_offset]))
            return 0;
    }
    return 0;
}

struct slice_ctx {
    struct raft_entry *out;
    size_t n;
    size_t cap;
    uint64_t bytes;
    uint64_t max_bytes;
    bool oom;
};

static bool slice_cb(void *arg, const struct raft_entry *e)
{
    struct slice_ctx *s = arg;
    if (s->n > 0 && s->bytes + e->len > s->max_bytes)
        return false;
    struct raft_entry *d = &s->out[s->n];
    *d = *e;
    d->data = NULL;
    if (e->len > 0) {
        d->data = malloc(e->len);
        if (d->data == NULL) {
            s->oom = true;
            return false;
        }
        memcpy(d->data, e->data, e->len);
    }
    s->n++;
    s->bytes += e->len;
    return s->n < s->cap;
}

int raft__log_slice(const struct raft__log *l, raft_index lo, raft_index hi,
                    uint64_t max_bytes, struct raft_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (lo >= hi)
        return 0;
    struct slice_ctx s = {.cap = (size_t)(hi - lo), .max_bytes = max_bytes};
    s.out = calloc(s.cap, sizeof(*s.out));
    if (s.out == NULL)
        return RAFT_ENOMEM;
    int rc = raft__log_visit(l, lo, hi, slice_cb, &s);
    if (rc == 0 && s.oom)
        rc = RAFT_ENOMEM;
    if (rc != 0) {
        raft__entries_free(s.out, s.n);
        return rc;
    }
    if (s.n == 0) {
        free(s.out);
        s.out = NULL;
    }
    *out = s.out;
    *n = s.n;
    return 0;
}

/* First index in e[] whose term differs from ours (or is beyond the log). */
static raft_index find_conflict(const struct raft__log *l,
                                const struct raft_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!raft__log_match_term(l, e[i].index, e[i].term))
            return e[i].index;
    return 0;
}

bool raft__log_maybe_append(struct raft__log *l, raft_index prev_index,
                            raft_term prev_term, raft_index commit,
                            const struct raft_entry *e, size_t n,
                            raft_index *lastnewi, int *err)
{
    *err = 0;
    if (!raft__log_match_term(l, prev_index, prev_term))
        return false;
    raft_index last_new = prev_index + n;
    raft_index ci = find_conflict(l, e, n);
    if (ci != 0) {
        if (ci <= l->commit) {
            /* A leader never rewrites committed entries: the message is
             * bogus (or Raft is broken).  Refuse it. */
            *err = RAFT_ECORRUPT;
            return false;
        }
        size_t from = (size_t)(ci - (prev_index + 1));
        int rc = raft__log_append(l, e + from, n - from);
        if (rc != 0) {
            *err = rc;
            return false;
        }
    }
    raft_index c = commit < last_new ? commit : last_new;
    raft__log_commit_to(l, c);
    *lastnewi = last_new;
    return true;
}

raft_index raft__log_conflict_by_term(const struct raft__log *l,
                                      raft_index index, raft_term term,
                                      raft_term *found_term)
{
    for (;;) {
        raft_term t = 0;
        if (raft__log_term(l, index, &t) != 0) {
            *found_term = 0;
            return index;
        }
        if (t <= term || index == 0) {
            *found_term = t;
            return index;
        }
        index--;
    }
}

bool raft__log_commit_to(struct raft__log *l, raft_index commit)
{
    if (commit <= l->commit)
        return false;
    assert(commit <= raft__log_last_index(l));
    l->commit = commit;
    return true;
}

void raft__log_restore(struct raft__log *l,
                       const struct raft_snapshot_meta *snap)
{
    for (size_t i = 0; i < l->u_n; i++)
        free(l->u_ents[i].data);
    l->u_n = 0;
    l->u_offset = snap->index + 1;
    l->u_handed = snap->index;
    l->u_has_snap = true;
    l->u_snap_handed = false;
    l->u_snap = *snap;
    if (l->commit < snap->index)
        l->commit = snap->index;
}

void raft__log_stable_to(struct raft__log *l, raft_index i, raft_term t)
{
    if (l->u_has_snap) {
        /* Batches become durable in order: once a batch at or past the
         * snapshot is durable, so is the snapshot. */
        if (!l->u_snap_handed || i < l->u_snap.index)
            return;
        if (!raft__log_match_term(l, i, t))
            return;
        l->u_has_snap = false;
    }
    if (l->u_n == 0 || i < l->u_offset || i > l->u_handed)
        return;
    if (i >= l->u_offset + l->u_n || l->u_ents[i - l->u_offset].term != t)
        return; /* stale: that entry has been replaced since */
    size_t drop = (size_t)(i - l->u_offset + 1);
    for (size_t k = 0; k < drop; k++)
        free(l->u_ents[k].data);
    memmove(l->u_ents, l->u_ents + drop, (l->u_n - drop) * sizeof(*l->u_ents));
    l->u_n -= drop;
    l->u_offset = i + 1;
}
