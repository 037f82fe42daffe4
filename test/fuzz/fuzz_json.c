/*
 * fuzz_json.c - libFuzzer target for the HTTP API's JSON parser and
 * writer (server/json.c) and the JSON -> protobuf translation of request
 * bodies (server/http_kv.c, server/http_auth.c for /v3/auth/).
 *
 * Input layout: byte 0 picks the limits (defaults, or a small depth and
 * value count so those refusals are reached) and the route the body is
 * translated for; the rest is a request body.
 *
 * Properties checked (a violation aborts):
 *   - json_parse() returns 0 or a documented JSON_E* code, and on error
 *     an offset within the input and no root;
 *   - a parsed document respects the limits, and writing it back with the
 *     writer then parsing that gives the same tree (strings byte for
 *     byte, numbers as written, member order kept);
 *   - hkv_encode_request() returns 0 with a packed protobuf request that
 *     protobuf-c can decode, or INVALID_ARGUMENT / RESOURCE_EXHAUSTED with
 *     a NUL-terminated message and no output.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "server/frame.h"
#include "server/http_kv.h"
#include "server/json.h"
#include "server/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_die(const char *what)
{
    fprintf(stderr, "fuzz_json: %s\n", what);
    abort();
}

static void write_value(struct json_out *o, const struct json_value *v)
{
    switch (v->type) {
    case JSON_NULL:
        json_out_literal(o, "null", 4);
        break;
    case JSON_FALSE:
    case JSON_TRUE:
        json_out_bool(o, v->type == JSON_TRUE);
        break;
    case JSON_NUMBER:
        json_out_literal(o, v->str, v->len);
        break;
    case JSON_STRING:
        json_out_str(o, v->str, v->len);
        break;
    case JSON_ARRAY:
        json_out_begin_array(o);
        for (const struct json_value *c = v->child; c != NULL; c = c->next)
            write_value(o, c);
        json_out_end_array(o);
        break;
    case JSON_OBJECT:
        json_out_begin_object(o);
        for (const struct json_value *c = v->child; c != NULL; c = c->next) {
            json_out_key_len(o, c->name, c->name_len);
            write_value(o, c);
        }
        json_out_end_object(o);
        break;
    }
}

static bool same_tree(const struct json_value *a, const struct json_value *b)
{
    if (a->type != b->type || a->n != b->n || a->len != b->len ||
        a->name_len != b->name_len)
        return false;
    if (a->name_len > 0 && memcmp(a->name, b->name, a->name_len) != 0)
        return false;
    if ((a->type == JSON_STRING || a->type == JSON_NUMBER) &&
        memcmp(a->str, b->str, a->len) != 0)
        return false;
    const struct json_value *x = a->child, *y = b->child;
    for (; x != NULL && y != NULL; x = x->next, y = y->next)
        if (!same_tree(x, y))
            return false;
    return x == NULL && y == NULL;
}

static size_t count_values(const struct json_value *v, unsigned depth,
                           unsigned *max_depth)
{
    size_t n = 1;
    if (v->type == JSON_ARRAY || v->type == JSON_OBJECT) {
        if (depth + 1 > *max_depth)
            *max_depth = depth + 1;
        for (const struct json_value *c = v->child; c != NULL; c = c->next)
            n += count_values(c, depth + 1, max_depth);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct json_limits lim;
    json_limits_default(&lim);
    if (data[0] & 1) {
        lim.max_depth = 4;
        lim.max_values = 16;
    }
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    struct json_doc doc;
    size_t at = 0;
    int rv = json_parse(text, len, &lim, &doc, &at);
    if (rv != 0) {
        if (rv < JSON_EEMPTY || rv > JSON_ENOMEM)
            fuzz_die("undocumented error code");
        if (doc.root != NULL || at > len)
            fuzz_die("failed parse left a root or an offset past the end");
        (void)json_strerror(rv);
    } else {
        unsigned depth = 0;
        size_t n = count_values(doc.root, 0, &depth);
        if (n > lim.max_values || depth > lim.max_depth || n != doc.values)
            fuzz_die("document over its limits");
        if (depth <= JSON_OUT_MAX_DEPTH) {
            struct json_out o;
            json_out_init(&o);
            write_value(&o, doc.root);
            if (json_out_failed(&o))
                fuzz_die("writer failed");
            struct json_doc again;
            if (json_parse(o.buf, o.len, &lim, &again, NULL) != 0 ||
                !same_tree(doc.root, again.root))
                fuzz_die("written document does not parse back the same");
            json_doc_free(&again);
            json_out_free(&o);
        }
    }
    json_doc_free(&doc);

    size_t n_routes;
    const struct hkv_route *routes = hkv_routes(&n_routes);
    const struct hkv_route *r = &routes[(data[0] >> 1) % n_routes];
    uint8_t *out = NULL;
    size_t out_len = 0;
    char msg[256];
    msg[0] = 'x';
    int st = hkv_encode_request(r, (const uint8_t *)text, len, &lim, &out,
                                &out_len, msg, sizeof msg);
    if (st == 0) {
        const ProtobufCMessageDescriptor *d = NULL;
        switch (r->method) {
        case SRV_METHOD_RANGE:
            d = &metastore__range_request__descriptor;
            break;
        case SRV_METHOD_PUT:
            d = &metastore__put_request__descriptor;
            break;
        case SRV_METHOD_DELETE_RANGE:
            d = &metastore__delete_range_request__descriptor;
            break;
        case SRV_METHOD_TXN:
            d = &metastore__txn_request__descriptor;
            break;
        case SRV_METHOD_COMPACT:
            d = &metastore__compaction_request__descriptor;
            break;
        default:
            d = &metastore__status_request__descriptor;
        }
        ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, out_len, out);
        if (m == NULL)
            fuzz_die("encoded request does not decode");
        protobuf_c_message_free_unpacked(m, NULL);
        free(out);
    } else {
        if (st != SRV_STATUS_INVALID_ARGUMENT &&
            st != SRV_STATUS_RESOURCE_EXHAUSTED)
            fuzz_die("unexpected status from the translation");
        if (out != NULL || memchr(msg, '\0', sizeof msg) == NULL)
            fuzz_die("refused request left output or an unterminated message");
    }
    return 0;
}
