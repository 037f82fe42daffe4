/*
 * The storage engine conformance suite: one Check suite of etcd v3 MVCC
 * behaviour that every engine behind storage/engine.h must pass.  A test
 * program supplies a factory for fresh, empty engines and runs the suite:
 *
 *     static int open_mem(void *ctx, struct engine **out)
 *     { return engine_memory_open(NULL, out); }
 *     struct conformance_factory f = {"memory", open_mem, NULL, NULL};
 *     srunner_create(conformance_suite(&f));
 *
 * The suite only uses the public interface of storage/engine.h.
 */
#ifndef METASTORE_TEST_STORAGE_CONFORMANCE_H
#define METASTORE_TEST_STORAGE_CONFORMANCE_H

#include <check.h>

#include "storage/engine.h"

struct conformance_factory {
    const char *name;
    /* Opens a fresh, empty engine; several may be open at once (snapshot
     * tests restore into a second one).  Returns 0 or a negative code. */
    int (*open)(void *ctx, struct engine **out);
    /* Optional: closes an engine from open() and removes whatever it left
     * (a directory, say).  NULL means engine_close(). */
    void (*close)(void *ctx, struct engine *e);
    void *ctx;
};

/* Builds the suite.  The factory must outlive the suite's run (it is kept
 * by pointer; Check's forked test processes inherit it). */
Suite *conformance_suite(const struct conformance_factory *f);

#endif /* METASTORE_TEST_STORAGE_CONFORMANCE_H */
