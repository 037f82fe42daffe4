/*
 * metrics.h - a small metrics registry rendered in the Prometheus text
 * exposition format 0.0.4 (served by the admin endpoint on /metrics).
 *
 * A registry holds families (a name, a type, a help text and label names);
 * a family holds series, one per combination of label values.  Counters and
 * gauges carry one double; histograms carry fixed buckets (upper bounds
 * given when the family is declared, +Inf added implicitly), a sum and a
 * count.  Families render in the order they were first declared, series in
 * the order they were first touched:
 *
 *     # HELP metastore_requests_total Client requests answered.
 *     # TYPE metastore_requests_total counter
 *     metastore_requests_total{method="PUT",status="OK"} 12
 *     # TYPE metastore_request_duration_seconds histogram
 *     metastore_request_duration_seconds_bucket{method="PUT",le="0.001"} 3
 *     ...
 *     metastore_request_duration_seconds_bucket{method="PUT",le="+Inf"} 12
 *     metastore_request_duration_seconds_sum{method="PUT"} 0.0311
 *     metastore_request_duration_seconds_count{method="PUT"} 12
 *
 * Declaring is idempotent: declaring a family again with the same name,
 * type, label names and buckets returns the existing one, so a collector
 * may declare and set on every scrape.  Values are usually loaded by such a
 * collector from counters the server keeps anyway (metrics_set,
 * metrics_histogram_load); metrics_add and metrics_observe are there for
 * code that counts through the registry itself.
 *
 * Not thread-safe: one loop thread.  Errors: negative METRICS_E* codes.
 */
#ifndef METASTORE_SERVER_METRICS_H
#define METASTORE_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_ENOMEM    (-1) /* out of memory */
#define METRICS_EINVAL    (-2) /* bad name, label, bucket list or value */
#define METRICS_EMISMATCH (-3) /* name declared with another type/shape */
#define METRICS_ETYPE     (-4) /* operation not valid for the family type */

#define METRICS_MAX_LABELS  4
#define METRICS_MAX_BUCKETS 32

enum metrics_type {
    METRICS_COUNTER = 0,
    METRICS_GAUGE,
    METRICS_HISTOGRAM,
};

struct metrics;
struct metrics_family;

/* "invalid argument"... never NULL. */
const char *metrics_strerror(int err);

int metrics_create(struct metrics **out);
/* Frees the registry and every family and series (NULL is fine). */
void metrics_destroy(struct metrics *m);

/*
 * Declares (or finds) a family.  name: [a-zA-Z_:][a-zA-Z0-9_:]*; label
 * names: [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", and not "le" for
 * a histogram; at most METRICS_MAX_LABELS.  Histograms need 1 to
 * METRICS_MAX_BUCKETS finite, strictly increasing bounds (others pass
 * NULL, 0).  help is copied (may be NULL).  *out stays valid until
 * metrics_destroy().  METRICS_EINVAL, METRICS_EMISMATCH, METRICS_ENOMEM.
 */
int metrics_declare(struct metrics *m, enum metrics_type type, const char *name,
                    const char *help, size_t n_labels,
                    const char *const *label_names, size_t n_buckets,
                    const double *bounds, struct metrics_family **out);

/*
 * Operations on the series with these label values (n_labels values as
 * declared; NULL when the family has no labels).  Label values may be any
 * string; they are escaped when rendered.  The series is created on first
 * use (METRICS_ENOMEM).
 *
 * metrics_set: counter or gauge := v.  metrics_add: += v (a counter refuses
 * v < 0 with METRICS_EINVAL).  metrics_observe: histogram records v.
 * metrics_histogram_load: histogram := counts[0..n_buckets] (per bucket,
 * NOT cumulative; counts[n_buckets] is the +Inf bucket) and sum; the count
 * is their total.
 */
int metrics_set(struct metrics_family *f, const char *const *label_values,
                double v);
int metrics_add(struct metrics_family *f, const char *const *label_values,
                double v);
int metrics_observe(struct metrics_family *f, const char *const *label_values,
                    double v);
int metrics_histogram_load(struct metrics_family *f,
                           const char *const *label_values,
                           const uint64_t *counts, double sum);

/* Drops every series of f (for label sets that may disappear, such as
 * removed peers, before loading the current ones). */
void metrics_family_clear(struct metrics_family *f);

/*
 * Renders the whole registry into a new NUL-terminated buffer (*out,
 * malloc'd, owned by the caller; *len excludes the NUL).  Families with no
 * series still get their HELP and TYPE lines.  METRICS_ENOMEM.
 */
int metrics_render(const struct metrics *m, char **out, size_t *len);

/* The content type /metrics answers with. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif /* METASTORE_SERVER_METRICS_H */
