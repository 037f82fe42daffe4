/*
 * fixture.h - the teardown steps the single-node e2e tests share: stopping
 * the server and telling whether its log holds a sanitizer report, and a
 * scratch directory for files of cli child processes.
 */
#ifndef METASTORE_TEST_FIXTURE_H
#define METASTORE_TEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "test/e2e/helpers/e2e.h"

/* Stops s (SIGTERM, 5 s), cleans it up, and returns true when its log had
 * a sanitizer report ("Sanitizer" or "runtime error").  The caller asserts
 * on it last, once everything else is torn down. */
bool e2e_server_finish(struct e2e_server *s);

/* Creates /tmp/metastore-<name>-XXXXXX into dir (cap bytes); fails the
 * test when it cannot. */
void e2e_tmpdir_create(char *dir, size_t cap, const char *name);
/* Removes dir and everything in it; fails the test when rm fails. */
void e2e_tmpdir_remove(const char *dir);

#endif /* METASTORE_TEST_FIXTURE_H */
