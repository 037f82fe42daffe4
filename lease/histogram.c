/*
 * histogram.c - log-linear latency histogram (see histogram.h).
 *
 * Bucket b < 128 holds exactly the value b.  For v >= 128 let e be the
 * index of v's highest set bit (7..63) and shift = e - 6: the top seven
 * bits of v, m = v >> shift, lie in [64, 128), and v goes to bucket
 * 128 + (shift - 1) * 64 + (m - 64).  Nothing can fail: every uint64_t has
 * a bucket.
 */
#include <string.h>

#include "lease/histogram.h"

#define HALF (1u << (LEASE_HIST_SUB_BITS - 1)) /* 64 */
#define FULL (1u << LEASE_HIST_SUB_BITS)       /* 128 */

void lease_hist_init(struct lease_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

/* Index of the highest set bit, v > 0 (callers pass v >= 128).  One clz,
 * not a loop: every read records its latency here, and the loop cost
 * about 60 instructions for a latency of a millisecond. */
static unsigned msb(uint64_t v)
{
    return 63u - (unsigned)__builtin_clzll(v);
}

unsigned lease_hist_bucket(uint64_t v)
{
    if (v < FULL)
        return (unsigned)v;
    unsigned shift = msb(v) - (LEASE_HIST_SUB_BITS - 1);
    unsigned m = (unsigned)(v >> shift);
    return FULL + (shift - 1) * HALF + (m - HALF);
}

void lease_hist_bucket_range(unsigned b, uint64_t *lo, uint64_t *hi)
{
    if (b < FULL) {
        *lo = *hi = b;
        return;
    }
    unsigned shift = (b - FULL) / HALF + 1;
    uint64_t m = HALF + (b - FULL) % HALF;
    *lo = m << shift;
    *hi = *lo + ((uint64_t)1 << shift) - 1;
}

void lease_hist_record(struct lease_hist *h, uint64_t value)
{
    h->buckets[lease_hist_bucket(value)]++;
    h->count++;
    h->sum = value > UINT64_MAX - h->sum ? UINT64_MAX : h->sum + value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

void lease_hist_merge(struct lease_hist *dst, const struct lease_hist *src)
{
    for (unsigned b = 0; b < LEASE_HIST_BUCKETS; b++)
        dst->buckets[b] += src->buckets[b];
    dst->count += src->count;
    dst->sum =
        src->sum > UINT64_MAX - dst->sum ? UINT64_MAX : dst->sum + src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t lease_hist_quantile(const struct lease_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (!(q > 0.0)) /* also catches NaN */
        q = 0.0;
    if (q > 1.0)
        q = 1.0;
    double want_d = q * (double)h->count;
    uint64_t want = (uint64_t)want_d;
    if ((double)want < want_d)
        want++; /* ceil */
    if (want == 0)
        want = 1;
    if (want > h->count)
        want = h->count;
    uint64_t seen = 0;
    for (unsigned b = 0; b < LEASE_HIST_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen >= want) {
            uint64_t lo, hi;
            lease_hist_bucket_range(b, &lo, &hi);
            if (hi > h->max)
                hi = h->max;
            if (hi < h->min)
                hi = h->min;
            return hi;
        }
    }
    return h->max;
}

uint64_t lease_hist_mean(const struct lease_hist *h)
{
    return h->count ? h->sum / h->count : 0;
}
