/*
 * tls.c - TLS for the client library's one connection.
 *
 * OpenSSL works on memory BIOs here too: the bytes still travel through
 * net.c's send()/recv() with MSG_NOSIGNAL and poll() deadlines, so TLS
 * adds no way to hang past the command timeout and none to raise SIGPIPE
 * (OpenSSL's own socket BIO would write() and could).
 *
 * Happy path: the context is built once per client from the options (CA
 * bundle, or the system's CAs; an optional client certificate and key);
 * each connection runs the handshake right after the TCP connect, checks
 * the server certificate's chain and that it names the endpoint's host
 * (DNS or IP SAN), then requests and responses are encrypted in memory and
 * moved by ms__net_write_all / ms__net_read_some.
 * Failure modes: unreadable or mismatched files -> MS_EINVAL with the file
 * named; a certificate that does not verify, a refused client certificate
 * (TLS 1.3 reports that on the first read), garbage from the server ->
 * MS_ETLS with OpenSSL's reason and the verification error in the text;
 * a deadline -> MS_ETIMEDOUT.
 */
#include "client/internal.h"
#include "client/metastore.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct ms__tls_ctx {
    SSL_CTX *ctx;
    bool skip_verify;
};

struct ms__tls_conn {
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    int fd;
};

/* OpenSSL's last reason, then clears its (per-thread) error queue. */
static const char *last_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r != NULL ? r : "unknown error";
}

static int file_error(const char *what, const char *path, const char *why,
                      char *err, size_t errlen)
{
    snprintf(err, errlen, "%s %s: %s", what, path, why);
    ERR_clear_error();
    return MS_EINVAL;
}

static int readable(const char *what, const char *path, char *err,
                    size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return file_error(what, path, strerror(errno), err, errlen);
    }
    fclose(f);
    return 0;
}

int ms__tls_ctx_create(const struct ms_tls_options *o, char *err,
                       size_t errlen, struct ms__tls_ctx **out)
{
    *out = NULL;
    ERR_clear_error();
    bool has_cert = o->cert_file != NULL && o->cert_file[0] != '\0';
    bool has_key = o->key_file != NULL && o->key_file[0] != '\0';
    bool has_ca = o->ca_file != NULL && o->ca_file[0] != '\0';
    if (has_cert != has_key) {
        snprintf(err, errlen, "TLS: a client certificate needs both --cert "
                              "and --key");
        return MS_EINVAL;
    }
    int rc = 0;
    if ((has_ca && (rc = readable("CA file", o->ca_file, err, errlen))) ||
        (has_cert &&
         (rc = readable("certificate", o->cert_file, err, errlen))) ||
        (has_key && (rc = readable("key", o->key_file, err, errlen)))) {
        return rc;
    }
    struct ms__tls_ctx *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return MS_ENOMEM;
    }
    t->skip_verify = o->insecure_skip_verify;
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (t->ctx == NULL) {
        free(t);
        snprintf(err, errlen, "TLS: %s", last_reason());
        return MS_ENOMEM;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    if (has_ca) {
        if (SSL_CTX_load_verify_locations(t->ctx, o->ca_file, NULL) != 1) {
            rc = file_error("CA file", o->ca_file, last_reason(), err, errlen);
        }
    } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
        ERR_clear_error(); /* no system CAs: verification will say so */
    }
    if (rc == 0 && has_cert &&
        SSL_CTX_use_certificate_chain_file(t->ctx, o->cert_file) != 1) {
        rc = file_error("certificate", o->cert_file, last_reason(), err,
                        errlen);
    }
    if (rc == 0 && has_key &&
        SSL_CTX_use_PrivateKey_file(t->ctx, o->key_file, SSL_FILETYPE_PEM) !=
            1) {
        rc = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH
                 ? file_error("key", o->key_file,
                              "does not match the certificate", err, errlen)
                 : file_error("key", o->key_file, last_reason(), err, errlen);
    }
    if (rc == 0 && has_cert && SSL_CTX_check_private_key(t->ctx) != 1) {
        rc = file_error("key", o->key_file, "does not match the certificate",
                        err, errlen);
    }
    if (rc != 0) {
        ms__tls_ctx_destroy(t);
        return rc;
    }
    *out = t;
    return 0;
}

void ms__tls_ctx_destroy(struct ms__tls_ctx *t)
{
    if (t != NULL) {
        SSL_CTX_free(t->ctx);
        free(t);
    }
}

/* Sends whatever ciphertext OpenSSL produced.  *any: some bytes left. */
static int flush_out(struct ms__tls_conn *c, uint64_t deadline, bool *any)
{
    uint8_t buf[16384];
    for (;;) {
        int n = BIO_read(c->wbio, buf, sizeof(buf));
        if (n <= 0) {
            return 0;
        }
        size_t sent = 0;
        int rc = ms__net_write_all(c->fd, buf, (size_t)n, deadline, &sent);
        if (sent > 0 && any != NULL) {
            *any = true;
        }
        if (rc != 0) {
            return rc;
        }
    }
}

/* Reads what the socket has (waiting up to the deadline) into OpenSSL. */
static int fill_in(struct ms__tls_conn *c, uint64_t deadline)
{
    uint8_t buf[16384];
    int n = ms__net_read_some(c->fd, buf, sizeof(buf), deadline);
    if (n < 0) {
        return n;
    }
    if (BIO_write(c->rbio, buf, n) != n) {
        return MS_ENOMEM;
    }
    return 0;
}

/* The result r of an SSL call that did not succeed: 1 = wait for input,
 * or a code with err filled in. */
static int ssl_failure(struct ms__tls_conn *c, int r, char *err, size_t errlen)
{
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        return 1;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        return MS_ECLOSED;
    }
    long v = SSL_get_verify_result(c->ssl);
    const char *reason = last_reason();
    if (v != X509_V_OK) {
        snprintf(err, errlen, "%s: %s", reason,
                 X509_verify_cert_error_string(v));
    } else {
        snprintf(err, errlen, "%s", reason);
    }
    return MS_ETLS;
}

static bool is_ip(const char *host)
{
    ASN1_OCTET_STRING *a = a2i_IPADDRESS(host);
    if (a == NULL) {
        ERR_clear_error();
        return false;
    }
    ASN1_OCTET_STRING_free(a);
    return true;
}

int ms__tls_connect(struct ms__tls_ctx *t, int fd, const char *host,
                    uint64_t deadline, struct ms__tls_conn **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    ERR_clear_error();
    struct ms__tls_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return MS_ENOMEM;
    }
    c->fd = fd;
    c->ssl = SSL_new(t->ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        SSL_free(c->ssl);
        free(c);
        ERR_clear_error();
        return MS_ENOMEM;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_connect_state(c->ssl);
    if (t->skip_verify) {
        SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
        if (is_ip(host)) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host);
        } else {
            SSL_set1_host(c->ssl, host);
        }
    }
    if (!is_ip(host)) {
        SSL_set_tlsext_host_name(c->ssl, host);
    }
    int rc;
    for (;;) {
        int r = SSL_do_handshake(c->ssl);
        rc = flush_out(c, deadline, NULL);
        if (rc != 0 || r == 1) {
            break;
        }
        rc = ssl_failure(c, r, err, errlen);
        if (rc == 1) {
            rc = fill_in(c, deadline);
        }
        if (rc != 0) {
            break;
        }
    }
    if (rc != 0) {
        if (rc == MS_ECLOSED) {
            snprintf(err, errlen, "the server closed the connection during "
                                  "the TLS handshake");
            rc = MS_ETLS;
        }
        ms__tls_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int ms__tls_write_all(struct ms__tls_conn *c, const void *buf, size_t len,
                      uint64_t deadline, size_t *sent, char *err,
                      size_t errlen)
{
    bool any = false;
    *sent = 0;
    ERR_clear_error();
    const uint8_t *p = buf;
    size_t done = 0;
    while (done < len) {
        size_t want = len - done;
        int r = SSL_write(c->ssl, p + done,
                          want > (1u << 30) ? (1 << 30) : (int)want);
        if (r <= 0) {
            int rc = ssl_failure(c, r, err, errlen);
            return rc == 1 ? MS_ETLS : rc;
        }
        done += (size_t)r;
    }
    int rc = flush_out(c, deadline, &any);
    /* A request counts as sent once any of its bytes left: the server
     * may have it. */
    *sent = any ? len : 0;
    return rc;
}

int ms__tls_read_full(struct ms__tls_conn *c, void *buf, size_t len,
                      uint64_t deadline, char *err, size_t errlen)
{
    uint8_t *p = buf;
    size_t done = 0;
    ERR_clear_error();
    while (done < len) {
        size_t want = len - done;
        int r = SSL_read(c->ssl, p + done, want > INT_MAX ? INT_MAX : (int)want);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        int rc = ssl_failure(c, r, err, errlen);
        if (rc == 1) {
            rc = flush_out(c, deadline, NULL); /* e.g. a key update */
            if (rc == 0) {
                rc = fill_in(c, deadline);
            }
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

bool ms__tls_buffered(const struct ms__tls_conn *c)
{
    return SSL_pending(c->ssl) > 0 || BIO_ctrl_pending(c->rbio) > 0;
}

void ms__tls_close(struct ms__tls_conn *c)
{
    if (c == NULL) {
        return;
    }
    /* close_notify, best effort: never wait for the socket. */
    if (SSL_is_init_finished(c->ssl) && SSL_shutdown(c->ssl) >= 0) {
        uint8_t b[256];
        int n = BIO_read(c->wbio, b, sizeof(b));
        if (n > 0) {
            size_t sent = 0;
            (void)ms__net_write_all(c->fd, b, (size_t)n, 0, &sent);
        }
    }
    ERR_clear_error();
    SSL_free(c->ssl);
    free(c);
}
