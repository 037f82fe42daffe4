/*
 * histogram.h - a fixed-size log-linear latency histogram for read
 * statistics (in the spirit of HdrHistogram with about two significant
 * digits).
 *
 * Values are unsigned 64-bit (nanoseconds here).  Values below 128 have a
 * bucket each; above that every power of two is split into 64 equal
 * buckets, so a bucket is never wider than 1/64 (1.6%) of the values it
 * holds.  Recording is O(1), allocates nothing and cannot fail; a quantile
 * walks the buckets once.  Pure: no clock, no I/O.
 */
#ifndef METASTORE_LEASE_HISTOGRAM_H
#define METASTORE_LEASE_HISTOGRAM_H

#include <stdint.h>

#define LEASE_HIST_SUB_BITS 7u /* 2^7 exact buckets, 2^6 per octave above */
#define LEASE_HIST_BUCKETS                                                     \
    ((1u << LEASE_HIST_SUB_BITS) +                                             \
     (64u - LEASE_HIST_SUB_BITS) * (1u << (LEASE_HIST_SUB_BITS - 1)))

struct lease_hist {
    uint64_t count;
    uint64_t sum; /* saturates at UINT64_MAX */
    uint64_t min; /* UINT64_MAX while empty */
    uint64_t max;
    uint64_t buckets[LEASE_HIST_BUCKETS];
};

/* Empties `h` (caller-allocated; nothing to close). */
void lease_hist_init(struct lease_hist *h);
void lease_hist_record(struct lease_hist *h, uint64_t value);
/* Adds every value of `src` to `dst`. */
void lease_hist_merge(struct lease_hist *dst, const struct lease_hist *src);
/*
 * The value at quantile q (0.5 for p50, 0.999 for p99.9; clamped to
 * [0, 1]): the largest value of the bucket holding the ceil(q * count)-th
 * smallest value, clamped to [min, max], so it is within 1/64 of the true
 * value and never outside what was recorded.  0 when empty.
 */
uint64_t lease_hist_quantile(const struct lease_hist *h, double q);
/* Mean, rounded down; 0 when empty. */
uint64_t lease_hist_mean(const struct lease_hist *h);

/* Bucket arithmetic, exposed for tests: the bucket of v and the range of
 * values [*lo, *hi] a bucket holds. */
unsigned lease_hist_bucket(uint64_t v);
void lease_hist_bucket_range(unsigned b, uint64_t *lo, uint64_t *hi);

#endif /* METASTORE_LEASE_HISTOGRAM_H */
