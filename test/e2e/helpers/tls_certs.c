/*
 * tls_certs.c - throwaway certificates for the TLS tests (e2e.h).
 *
 * The certificates are made at test time by scripts/gen-test-certs.sh into
 * a fresh temporary directory (never committed).  The script is found by
 * walking up from the test binary (build/test/e2e/x, build/asan/test/...)
 * to the directory that holds scripts/.
 */
#include "test/e2e/helpers/e2e.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_dir[256];

static bool find_script(char *out, size_t cap)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0) {
        return false;
    }
    path[n] = '\0';
    for (;;) {
        char *slash = strrchr(path, '/');
        if (slash == NULL || slash == path) {
            return false;
        }
        *slash = '\0';
        snprintf(out, cap, "%s/scripts/gen-test-certs.sh", path);
        if (access(out, X_OK) == 0) {
            return true;
        }
    }
}

const char *e2e_tls_certs(const char *extra_sans)
{
    if (g_dir[0] != '\0') {
        return g_dir;
    }
    if (system("command -v openssl >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIPPED: the openssl command is not installed; TLS "
                        "tests do not run (apt-get install openssl)\n");
        return NULL;
    }
    char script[PATH_MAX + 40];
    if (!find_script(script, sizeof script)) {
        fprintf(stderr, "tls_certs: scripts/gen-test-certs.sh not found\n");
        return NULL;
    }
    char tmpl[] = "/tmp/metastore-tls-XXXXXX";
    if (mkdtemp(tmpl) == NULL) {
        perror("mkdtemp");
        return NULL;
    }
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' >/dev/null", script, tmpl,
             extra_sans != NULL ? extra_sans : "");
    if (system(cmd) != 0) {
        fprintf(stderr, "tls_certs: %s failed\n", script);
        return NULL;
    }
    snprintf(g_dir, sizeof g_dir, "%s", tmpl);
    return g_dir;
}

void e2e_tls_certs_cleanup(void)
{
    if (g_dir[0] == '\0') {
        return;
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "tls_certs: could not remove %s\n", g_dir);
    }
    g_dir[0] = '\0';
}

const char *e2e_tls_path(const char *name)
{
    static char bufs[8][320];
    static unsigned next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", g_dir, name);
    return b;
}
