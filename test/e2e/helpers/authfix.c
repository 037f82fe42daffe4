/*
 * authfix.c - the starting users and roles of the auth tests (authfix.h).
 */
#include "test/e2e/helpers/authfix.h"

#include <check.h>
#include <stdbool.h>

#define OK(call)                                                               \
    ck_assert_msg((call) == 0, "%s: %s", #call, ms_client_errmsg(c))

void e2e_auth_make_users(struct ms_client *c)
{
    struct ms_result *r = NULL;
    OK(ms_user_add(c, "root", "rootpw", false));
    OK(ms_user_grant_role(c, "root", "root"));
    OK(ms_role_add(c, "app"));
    OK(ms_role_grant_permission(c, "app", MS_PERM_READ, "/app/", 5, "/app0",
                                5));
    OK(ms_user_add(c, "alice", "alicepw", false));
    OK(ms_user_grant_role(c, "alice", "app"));
    OK(ms_put(c, "/app/x", 6, "1", 1, 0, false, &r));
    ms_result_free(r);
    OK(ms_put(c, "/other/y", 8, "2", 1, 0, false, &r));
    ms_result_free(r);
    OK(ms_auth_enable(c));
}
