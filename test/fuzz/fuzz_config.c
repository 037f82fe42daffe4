/*
 * fuzz_config.c - libFuzzer target for the configuration loader
 * (server/config.c): arbitrary text through srv_config_load_string() and
 * srv_config_validate(), as metastored does with a config file.
 *
 * Checks: no crash or sanitizer report; the error text is always
 * NUL-terminated and non-empty on failure; a failed load leaves the
 * configuration untouched (all or nothing, as config.h promises); a config
 * that loads and validates survives srv_config_format() and a reload into
 * fresh defaults with identical formatted output (what --print-config
 * relies on).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_config: %s: %s\n", what, detail);
    abort();
}

static char *fuzz_format(const struct srv_config *cfg)
{
    char probe[1];
    size_t need = srv_config_format(cfg, probe, sizeof probe);
    char *buf = malloc(need + 1);
    if (buf == NULL)
        fuzz_die("out of memory", "");
    if (srv_config_format(cfg, buf, need + 1) != need)
        fuzz_die("srv_config_format changed its length", "");
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct srv_config cfg, before, back;
    char err[512];

    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    srv_config_defaults(&cfg);
    before = cfg;
    memset(err, 'x', sizeof err);
    int rc = srv_config_load_string(&cfg, text, "<fuzz>", err, sizeof err);
    free(text);
    if (memchr(err, '\0', sizeof err) == NULL)
        fuzz_die("error text not NUL-terminated", "");
    if (rc != 0) {
        if (rc > 0 || err[0] == '\0')
            fuzz_die("load failed without a negative code and a message", err);
        if (memcmp(&cfg, &before, sizeof cfg) != 0)
            fuzz_die("a failed load changed the configuration", err);
        return 0;
    }
    memset(err, 'x', sizeof err);
    rc = srv_config_validate(&cfg, err, sizeof err);
    if (memchr(err, '\0', sizeof err) == NULL)
        fuzz_die("validate error text not NUL-terminated", "");
    if (rc != 0) {
        if (err[0] == '\0')
            fuzz_die("validate failed without a message", "");
        return 0;
    }
    (void)srv_config_lease_duration_ms(&cfg);
    (void)srv_config_cluster_id(&cfg);

    char *out = fuzz_format(&cfg);
    srv_config_defaults(&back);
    if (srv_config_load_string(&back, out, "<print-config>", err, sizeof err))
        fuzz_die("--print-config output does not load back", err);
    char *out2 = fuzz_format(&back);
    if (strcmp(out, out2) != 0)
        fuzz_die("--print-config output does not round-trip", out);
    free(out);
    free(out2);
    return 0;
}
