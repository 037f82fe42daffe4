/*
 * tls.c - TLS through memory BIOs for metastored's connections (contract
 * in server/tls.h).
 *
 * Happy path: the connection code feeds what the socket delivered into the
 * read BIO; srv_tls_read() runs the handshake until it completes (each step
 * leaves its output in the write BIO for srv_tls_take()), then flushes the
 * plaintext that was written early and decrypts application data.  Writes
 * after the handshake go straight through SSL_write into the write BIO,
 * which grows as needed, so a write never has to wait.
 *
 * Failure modes: a peer that is not speaking TLS (garbage bytes), a
 * certificate the CA did not sign, an expired certificate, no client
 * certificate when one is required, a name mismatch on the dialing side:
 * all come out of OpenSSL as a fatal error; the reason is kept in one line
 * for the caller to log once and the connection is closed.  OpenSSL's
 * error queue is per thread: it is emptied before every call and read
 * right after a failure, so one connection's error never shows up on
 * another.
 */
#include "server/tls.h"

#include "server/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct srv_tls_ctx {
    SSL_CTX *ssl_ctx;
    bool client_cert_auth;
    bool has_ca;
};

struct srv_tls {
    SSL *ssl;
    BIO *rbio; /* ciphertext from the peer (owned by ssl) */
    BIO *wbio; /* ciphertext for the peer (owned by ssl) */
    bool is_server;
    bool established;
    bool failed;
    /* Plaintext written before the handshake finished. */
    uint8_t *early;
    size_t early_len, early_cap;
    char err[256];
};

/* ---- contexts ---------------------------------------------------------- */

static int ctx_fail(char *err, size_t errlen, const char *fmt, const char *a,
                    const char *b)
{
    if (errlen > 0) {
        char why[160] = "";
        unsigned long e = ERR_peek_last_error();
        if (e != 0) {
            const char *r = ERR_reason_error_string(e);
            snprintf(why, sizeof why, " (%s)", r != NULL ? r : "unknown");
        }
        char msg[512];
        snprintf(msg, sizeof msg, fmt, a, b);
        snprintf(err, errlen, "%s%s", msg, why);
    }
    ERR_clear_error();
    return SRV_TLS_EFAIL;
}

/* fopen() first, so a missing or unreadable file gets errno's words rather
 * than OpenSSL's "system lib". */
static int check_readable(const char *path, const char *what, char *err,
                          size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return SRV_TLS_EFAIL;
    }
    fclose(f);
    return 0;
}

int srv_tls_ctx_create(const struct srv_tls_files *f, char *err,
                       size_t errlen, struct srv_tls_ctx **out)
{
    char wcert[64], wkey[64], wca[64];
    const char *p = f->what != NULL ? f->what : "tls.";
    snprintf(wcert, sizeof wcert, "%scert_file", p);
    snprintf(wkey, sizeof wkey, "%skey_file", p);
    snprintf(wca, sizeof wca, "%strusted_ca_file", p);
    *out = NULL;
    ERR_clear_error();
    bool has_ca = f->ca_file != NULL && f->ca_file[0] != '\0';
    if (check_readable(f->cert_file, wcert, err, errlen) != 0 ||
        check_readable(f->key_file, wkey, err, errlen) != 0 ||
        (has_ca && check_readable(f->ca_file, wca, err, errlen) != 0)) {
        return SRV_TLS_EFAIL;
    }
    struct srv_tls_ctx *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return SRV_TLS_ENOMEM;
    }
    c->client_cert_auth = f->client_cert_auth;
    c->has_ca = has_ca;
    c->ssl_ctx = SSL_CTX_new(TLS_method());
    int rc = SRV_TLS_EFAIL;
    if (c->ssl_ctx == NULL) {
        rc = ctx_fail(err, errlen, "%s%s: cannot create a TLS context", p, "");
        goto fail;
    }
    SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(c->ssl_ctx, f->cert_file) != 1) {
        rc = ctx_fail(err, errlen, "%s %s: not a PEM certificate", wcert,
                      f->cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(c->ssl_ctx, f->key_file,
                                    SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            char msg[300];
            snprintf(msg, sizeof msg, "%s %s does not match %s", wkey,
                     f->key_file, wcert);
            rc = ctx_fail(err, errlen, "%s %s", msg, f->cert_file);
            goto fail;
        }
        rc = ctx_fail(err, errlen, "%s %s: not a PEM private key", wkey,
                      f->key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(c->ssl_ctx) != 1) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s %s does not match %s", wkey, f->key_file,
                 wcert);
        rc = ctx_fail(err, errlen, "%s %s", msg, f->cert_file);
        goto fail;
    }
    if (has_ca) {
        if (SSL_CTX_load_verify_locations(c->ssl_ctx, f->ca_file, NULL) != 1) {
            rc = ctx_fail(err, errlen, "%s %s: not a PEM CA bundle", wca,
                          f->ca_file);
            goto fail;
        }
        if (f->client_cert_auth) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(f->ca_file);
            if (names != NULL) {
                SSL_CTX_set_client_CA_list(c->ssl_ctx, names);
            }
        }
    }
    ERR_clear_error();
    *out = c;
    return 0;
fail:
    srv_tls_ctx_destroy(c);
    return rc;
}

void srv_tls_ctx_destroy(struct srv_tls_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

/* ---- connections ------------------------------------------------------- */

static bool is_ip(const char *host)
{
    ASN1_OCTET_STRING *a = a2i_IPADDRESS(host);
    if (a == NULL) {
        return false;
    }
    ASN1_OCTET_STRING_free(a);
    return true;
}

struct srv_tls *srv_tls_create(struct srv_tls_ctx *ctx, bool is_server,
                               const char *verify_host)
{
    struct srv_tls *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return NULL;
    }
    ERR_clear_error();
    t->is_server = is_server;
    t->ssl = SSL_new(ctx->ssl_ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    if (is_server) {
        SSL_set_accept_state(t->ssl);
        SSL_set_verify(t->ssl,
                       ctx->client_cert_auth
                           ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                           : SSL_VERIFY_NONE,
                       NULL);
    } else {
        SSL_set_connect_state(t->ssl);
        SSL_set_verify(t->ssl, SSL_VERIFY_PEER, NULL);
        if (verify_host != NULL && verify_host[0] != '\0') {
            if (is_ip(verify_host)) {
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl),
                                              verify_host);
            } else {
                SSL_set1_host(t->ssl, verify_host);
                SSL_set_tlsext_host_name(t->ssl, verify_host);
            }
        }
        /* The ClientHello, ready for the caller to take. */
        (void)SSL_do_handshake(t->ssl);
    }
    ERR_clear_error();
    return t;
}

void srv_tls_destroy(struct srv_tls *t)
{
    if (t == NULL) {
        return;
    }
    SSL_free(t->ssl); /* frees both BIOs */
    free(t->early);
    free(t);
}

/* Turns the result r of an SSL call into 0 (needs more input),
 * SRV_TLS_ECLOSED or SRV_TLS_EFAIL (with t->err set). */
static int classify(struct srv_tls *t, int r)
{
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        return 0;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        return SRV_TLS_ECLOSED;
    }
    t->failed = true;
    unsigned long code = ERR_peek_last_error();
    const char *reason = code != 0 ? ERR_reason_error_string(code) : NULL;
    long v = SSL_get_verify_result(t->ssl);
    if (reason == NULL) {
        reason = e == SSL_ERROR_SYSCALL ? "unexpected end of stream"
                                        : "TLS protocol error";
    }
    if (v != X509_V_OK) {
        snprintf(t->err, sizeof t->err, "TLS handshake failed: %s: %s",
                 reason, X509_verify_cert_error_string(v));
    } else if (!t->established) {
        snprintf(t->err, sizeof t->err, "TLS handshake failed: %s", reason);
    } else {
        snprintf(t->err, sizeof t->err, "TLS error: %s", reason);
    }
    ERR_clear_error();
    return SRV_TLS_EFAIL;
}

int srv_tls_feed(struct srv_tls *t, const uint8_t *data, size_t len)
{
    while (len > 0) {
        int chunk = len > INT_MAX ? INT_MAX : (int)len;
        int n = BIO_write(t->rbio, data, chunk);
        if (n <= 0) {
            ERR_clear_error();
            return SRV_TLS_ENOMEM;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_now(struct srv_tls *t, const uint8_t *data, size_t len)
{
    while (len > 0) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        int n = SSL_write(t->ssl, data, chunk);
        if (n <= 0) {
            int rc = classify(t, n);
            return rc != 0 ? rc : SRV_TLS_EFAIL;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int srv_tls_read(struct srv_tls *t, uint8_t *buf, size_t cap, size_t *n)
{
    *n = 0;
    if (t->failed) {
        return SRV_TLS_EFAIL;
    }
    ERR_clear_error();
    if (!t->established) {
        int r = SSL_do_handshake(t->ssl);
        if (r != 1) {
            return classify(t, r);
        }
        t->established = true;
        if (t->early_len > 0) {
            int rc = write_now(t, t->early, t->early_len);
            free(t->early);
            t->early = NULL;
            t->early_len = t->early_cap = 0;
            if (rc != 0) {
                return rc;
            }
        }
    }
    int chunk = cap > INT_MAX ? INT_MAX : (int)cap;
    int r = SSL_read(t->ssl, buf, chunk);
    if (r > 0) {
        *n = (size_t)r;
        return 0;
    }
    return classify(t, r);
}

int srv_tls_write(struct srv_tls *t, const uint8_t *data, size_t len)
{
    if (t->failed) {
        return SRV_TLS_EFAIL;
    }
    if (len == 0) {
        return 0;
    }
    if (t->established) {
        ERR_clear_error();
        return write_now(t, data, len);
    }
    if (t->early_len + len > t->early_cap) {
        size_t cap = t->early_cap > 0 ? t->early_cap : 1024;
        while (cap < t->early_len + len) {
            cap *= 2;
        }
        uint8_t *p = realloc(t->early, cap);
        if (p == NULL) {
            return SRV_TLS_ENOMEM;
        }
        t->early = p;
        t->early_cap = cap;
    }
    memcpy(t->early + t->early_len, data, len);
    t->early_len += len;
    return 0;
}

size_t srv_tls_pending(const struct srv_tls *t)
{
    return BIO_ctrl_pending(t->wbio);
}

int srv_tls_take(struct srv_tls *t, uint8_t **buf, size_t *cap, size_t *len)
{
    size_t n = BIO_ctrl_pending(t->wbio);
    *len = 0;
    if (n == 0) {
        return 0;
    }
    if (*cap < n) {
        uint8_t *p = realloc(*buf, n);
        if (p == NULL) {
            return SRV_TLS_ENOMEM;
        }
        *buf = p;
        *cap = n;
    }
    size_t got = 0;
    while (got < n) {
        size_t want = n - got;
        int r = BIO_read(t->wbio, *buf + got,
                         want > INT_MAX ? INT_MAX : (int)want);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    *len = got;
    return 0;
}

void srv_tls_close_notify(struct srv_tls *t)
{
    if (t->established && !t->failed) {
        ERR_clear_error();
        (void)SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
}

bool srv_tls_established(const struct srv_tls *t)
{
    return t->established;
}

const char *srv_tls_error(const struct srv_tls *t)
{
    return t->err;
}

/* ---- start-up ---------------------------------------------------------- */

int srv_tls_load_config(const struct srv_config *cfg,
                        struct srv_tls_ctx **client, struct srv_tls_ctx **peer,
                        char *err, size_t errlen)
{
    *client = NULL;
    *peer = NULL;
    if (cfg->tls.cert_file[0] != '\0') {
        struct srv_tls_files f = {.cert_file = cfg->tls.cert_file,
                                  .key_file = cfg->tls.key_file,
                                  .ca_file = cfg->tls.trusted_ca_file,
                                  .client_cert_auth = cfg->tls.client_cert_auth,
                                  .what = "tls."};
        int rc = srv_tls_ctx_create(&f, err, errlen, client);
        if (rc != 0) {
            return rc;
        }
    }
    if (cfg->tls.peer_cert_file[0] != '\0') {
        struct srv_tls_files f = {
            .cert_file = cfg->tls.peer_cert_file,
            .key_file = cfg->tls.peer_key_file,
            .ca_file = cfg->tls.peer_trusted_ca_file,
            .client_cert_auth = cfg->tls.peer_client_cert_auth,
            .what = "tls.peer_"};
        int rc = srv_tls_ctx_create(&f, err, errlen, peer);
        if (rc != 0) {
            srv_tls_ctx_destroy(*client);
            *client = NULL;
            return rc;
        }
    }
    return 0;
}
