/*
 * tls.h - TLS for metastored's libuv streams, driven through memory BIOs.
 *
 * OpenSSL never touches a socket here.  The connection code reads
 * ciphertext from libuv and hands it in (srv_tls_feed), takes plaintext out
 * (srv_tls_read), hands plaintext in to be sent (srv_tls_write) and takes
 * the ciphertext to write out (srv_tls_take).  Nothing blocks: a call
 * either makes progress or says it needs more bytes from the peer.  The
 * handshake runs inside srv_tls_read; plaintext written before it finished
 * waits inside the object and is encrypted once it is done.
 *
 * Two roles share one context per port: the accepting side (client port,
 * peer listener) and the dialing side (a member connecting to another).  A
 * dialing side always verifies the server's certificate against the trusted
 * CA and, when given a host, that the certificate names it (DNS or IP SAN).
 * An accepting side asks for and verifies a client certificate when the
 * port's client_cert_auth is set.
 *
 * Errors: SRV_TLS_E* codes below; srv_tls_error() says in one line what
 * went wrong (OpenSSL's reason and, for a refused certificate, the
 * verification error: "certificate verify failed: certificate has
 * expired").  Any error is fatal for the connection: close it.
 *
 * Threading: one connection object belongs to one thread (the loop).
 * Private to server/.
 */
#ifndef METASTORE_SERVER_TLS_H
#define METASTORE_SERVER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_TLS_EFAIL   (-1) /* handshake or record failure: close */
#define SRV_TLS_ECLOSED (-2) /* the peer sent close_notify: an orderly end */
#define SRV_TLS_ENOMEM  (-3)

/* What a port's TLS is made of (paths borrowed for the call).  cert_file
 * and key_file are PEM; cert_file may hold the chain.  ca_file: PEM bundle
 * of the CAs whose certificates this side accepts from the other. */
struct srv_tls_files {
    const char *cert_file;
    const char *key_file;
    const char *ca_file;   /* may be NULL or "" when nothing is verified */
    bool client_cert_auth; /* accepting side: require a CA-signed cert */
    const char *what;      /* for messages: "tls" or "tls.peer_" etc. */
};

struct srv_tls_ctx;
struct srv_tls;

/*
 * Loads certificate, key and CA bundle and checks that the key belongs to
 * the certificate.  On failure returns SRV_TLS_EFAIL (or SRV_TLS_ENOMEM)
 * with a sentence in err naming the file and what is wrong ("tls.key_file
 * /x/key.pem: No such file or directory", "... does not match
 * tls.cert_file ...").  On success *out is to be freed with
 * srv_tls_ctx_destroy() after every connection using it.
 */
int srv_tls_ctx_create(const struct srv_tls_files *f, char *err,
                       size_t errlen, struct srv_tls_ctx **out);
void srv_tls_ctx_destroy(struct srv_tls_ctx *ctx);

/*
 * A connection's TLS state.  is_server: the accepting side.  verify_host
 * (dialing side only, may be NULL): the name or IP address the server's
 * certificate must carry.  A dialing side has its ClientHello ready to
 * take at once.  NULL when out of memory.
 */
struct srv_tls *srv_tls_create(struct srv_tls_ctx *ctx, bool is_server,
                               const char *verify_host);
void srv_tls_destroy(struct srv_tls *t);

/* Ciphertext that arrived from the peer (copied).  0 or SRV_TLS_ENOMEM. */
int srv_tls_feed(struct srv_tls *t, const uint8_t *data, size_t len);

/*
 * Advances the handshake and decrypts into buf[0..cap).  0 with *n > 0:
 * plaintext; 0 with *n == 0: nothing more until more ciphertext is fed
 * (call srv_tls_take: the handshake may have produced output).
 * SRV_TLS_ECLOSED when the peer closed the session, SRV_TLS_EFAIL.
 */
int srv_tls_read(struct srv_tls *t, uint8_t *buf, size_t cap, size_t *n);

/* Encrypts data (copied) for the peer, or keeps it until the handshake is
 * done.  0, SRV_TLS_EFAIL, SRV_TLS_ENOMEM. */
int srv_tls_write(struct srv_tls *t, const uint8_t *data, size_t len);

/* Ciphertext bytes waiting to be written to the socket. */
size_t srv_tls_pending(const struct srv_tls *t);

/*
 * Moves the waiting ciphertext into *buf (grown with realloc as needed,
 * *cap its size) and sets *len.  0 or SRV_TLS_ENOMEM.
 */
int srv_tls_take(struct srv_tls *t, uint8_t **buf, size_t *cap, size_t *len);

/* Queues a close_notify alert (take it and try to write it before
 * closing the socket).  Harmless before the handshake finished. */
void srv_tls_close_notify(struct srv_tls *t);

/* True once the handshake has finished. */
bool srv_tls_established(const struct srv_tls *t);

/* The last error in one line ("" when none). */
const char *srv_tls_error(const struct srv_tls *t);

struct srv_config;
/*
 * Builds the client-port and peer-port contexts the configuration asks
 * for (*client, *peer; NULL when that port is plain TCP).  Validation of
 * the keys themselves is srv_config_validate()'s; this checks the files:
 * readable, PEM, key matching the certificate.  On failure both are NULL
 * and err names the key, the file and the problem.
 */
int srv_tls_load_config(const struct srv_config *cfg,
                        struct srv_tls_ctx **client, struct srv_tls_ctx **peer,
                        char *err, size_t errlen);

#endif /* METASTORE_SERVER_TLS_H */
