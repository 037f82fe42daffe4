/*
 * authfix.h - the users, roles and keys the auth tests (single node and
 * cluster) start from.
 */
#ifndef METASTORE_TEST_AUTHFIX_H
#define METASTORE_TEST_AUTHFIX_H

#include "client/metastore.h"

/* Through c (not authenticated; auth still disabled): user root (password
 * rootpw) with the root role; role app = READ on prefix /app/; user alice
 * (alicepw) with app; keys /app/x = 1 and /other/y = 2; then enables auth.
 * Fails the test when a call fails.  Leaves c open. */
void e2e_auth_make_users(struct ms_client *c);

#endif /* METASTORE_TEST_AUTHFIX_H */
