/*
 * fixture.c - shared e2e teardown steps (fixture.h).
 */
#include "test/e2e/helpers/fixture.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

bool e2e_server_finish(struct e2e_server *s)
{
    e2e_server_stop(s, SIGTERM, 5000);
    bool report = e2e_server_log_contains(s, "Sanitizer") ||
                  e2e_server_log_contains(s, "runtime error");
    e2e_server_cleanup(s);
    return report;
}

void e2e_tmpdir_create(char *dir, size_t cap, const char *name)
{
    snprintf(dir, cap, "/tmp/metastore-%s-XXXXXX", name);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

void e2e_tmpdir_remove(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
