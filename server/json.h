/*
 * json.h - a small, strict JSON parser and a JSON writer, plus base64, for
 * the HTTP/JSON API (server/http_kv.c).
 *
 * The parser accepts exactly RFC 8259 JSON text: one value, optionally
 * surrounded by whitespace (space, tab, CR, LF).  It refuses, with a code
 * and the byte offset where it stopped:
 *   - anything after the value, a byte order mark, comments, trailing
 *     commas, single quotes, NaN/Infinity, leading zeros, "+1", ".5", "1.";
 *   - control characters inside strings, bad escapes, lone or reversed
 *     UTF-16 surrogates in \u escapes, invalid UTF-8 anywhere in a string
 *     (overlong forms, surrogates, code points above U+10FFFF);
 *   - the same member name twice in one object (RFC 8259 leaves this
 *     undefined; refusing it means no two readers can disagree);
 *   - nesting deeper than max_depth, or more than max_values values in all
 *     (these bound the memory a hostile body can make the server use).
 *
 * The document is a tree of struct json_value allocated in the document's
 * own arena; strings are decoded (escapes resolved) and NUL-terminated,
 * numbers keep their literal text so that 64-bit integers are read
 * exactly (json_int64()).  Everything is freed at once by json_doc_free().
 *
 * The writer appends compact JSON to a growable buffer; it tracks commas
 * itself, so callers only say "key", "value", "begin/end".  After an
 * allocation failure it stops writing and json_out_failed() says so.
 *
 * Pure: no I/O, no globals.  Errors are negative JSON_E* codes.
 */
#ifndef METASTORE_SERVER_JSON_H
#define METASTORE_SERVER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_ERRORS(X)                                                         \
    X(JSON_ENOMEM, -1, "out of memory")                                        \
    X(JSON_ESYNTAX, -2, "malformed JSON")                                      \
    X(JSON_ESTRING, -3, "malformed string (escape, control byte or UTF-8)")    \
    X(JSON_ENUMBER, -4, "malformed number")                                    \
    X(JSON_EDEPTH, -5, "nested too deeply")                                    \
    X(JSON_ETOOMANY, -6, "too many values")                                    \
    X(JSON_EDUPKEY, -7, "the same member name twice in one object")            \
    X(JSON_ETRAILING, -8, "unexpected data after the JSON value")              \
    X(JSON_EEMPTY, -9, "no JSON value")

enum json_error {
#define JSON__ERR_ENUM(name, value, text) name = value,
    JSON_ERRORS(JSON__ERR_ENUM)
#undef JSON__ERR_ENUM
};

/* One line for people; never NULL. */
const char *json_strerror(int err);

enum json_type {
    JSON_NULL = 0,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
};

/* Name of a type for messages: "null", "a boolean", "a number"... */
const char *json_type_name(enum json_type t);

struct json_value {
    enum json_type type;
    /* The member name when this value sits in an object (else NULL). */
    const char *name;
    size_t name_len;
    /* STRING: the decoded bytes (NUL-terminated; may hold NULs itself).
     * NUMBER: the literal as written.  Others: NULL. */
    const char *str;
    size_t len;
    /* ARRAY/OBJECT: children in order, and how many. */
    struct json_value *child;
    size_t n;
    struct json_value *next; /* next sibling */
};

struct json_limits {
    unsigned max_depth; /* arrays and objects nested (default 64) */
    size_t max_values;  /* values in the document (default 100000) */
};

void json_limits_default(struct json_limits *l);

struct json_arena_block;

/* A parsed document.  Caller-allocated; fields private except root. */
struct json_doc {
    struct json_value *root;
    struct json_arena_block *blocks;
    size_t values;
};

/*
 * Parses text[0..len) (need not be NUL-terminated) into *doc with `lim`
 * (NULL: defaults).  Returns 0, or a JSON_E* code with *err_offset (may be
 * NULL) set to the byte offset where parsing stopped.  In both cases
 * release doc with json_doc_free().
 */
int json_parse(const char *text, size_t len, const struct json_limits *lim,
               struct json_doc *doc, size_t *err_offset);
void json_doc_free(struct json_doc *doc);

/* n zeroed bytes from doc's arena, aligned for any object; freed with the
 * document.  NULL when out of memory. */
void *json_doc_alloc(struct json_doc *doc, size_t n);

/* The member `name` of object o, or NULL (also when o is not an object). */
const struct json_value *json_get(const struct json_value *o, const char *name);

/*
 * Reads a 64-bit integer from a NUMBER, or from a STRING holding one (as
 * protobuf's JSON mapping writes int64): an optional '-', then digits, no
 * fraction or exponent, in range.  0 or -1.
 */
int json_int64(const struct json_value *v, int64_t *out);
int json_uint64(const struct json_value *v, uint64_t *out);

/* ---- writer ------------------------------------------------------------- */

#define JSON_OUT_MAX_DEPTH 32

struct json_out {
    char *buf; /* malloc'd; the caller frees it (or takes it) */
    size_t len, cap;
    bool failed;
    bool after_key; /* a key was written: its value needs no comma */
    unsigned depth;
    bool first[JSON_OUT_MAX_DEPTH + 1]; /* nothing written yet at depth */
};

void json_out_init(struct json_out *o);
void json_out_free(struct json_out *o);
bool json_out_failed(const struct json_out *o);

void json_out_begin_object(struct json_out *o);
void json_out_end_object(struct json_out *o);
void json_out_begin_array(struct json_out *o);
void json_out_end_array(struct json_out *o);
/* A member name inside an object (the value follows). */
void json_out_key(struct json_out *o, const char *name);
/* The same for a name of n bytes (may hold NULs). */
void json_out_key_len(struct json_out *o, const char *name, size_t n);
/* A value written as given (a number literal, null): no escaping. */
void json_out_literal(struct json_out *o, const char *text, size_t n);
/* A string value, escaped (bytes >= 0x80 are copied as they are). */
void json_out_str(struct json_out *o, const char *s, size_t n);
/* A string value holding base64 (standard alphabet, padded) of data. */
void json_out_b64(struct json_out *o, const uint8_t *data, size_t n);
/* 64-bit integers as JSON strings, as protobuf's JSON mapping does. */
void json_out_int64_str(struct json_out *o, int64_t v);
void json_out_uint64_str(struct json_out *o, uint64_t v);
void json_out_int(struct json_out *o, int64_t v); /* a bare number */
void json_out_bool(struct json_out *o, bool v);
/* Appends raw bytes (no comma handling): for a final newline. */
void json_out_raw(struct json_out *o, const char *s, size_t n);

/* ---- base64 (RFC 4648) -----------------------------------------------------
 */

/* Characters base64 needs for n bytes (padded, no NUL). */
size_t base64_encoded_len(size_t n);
/* Writes base64_encoded_len(n) characters (standard alphabet, padded). */
void base64_encode(const uint8_t *in, size_t n, char *out);
/*
 * Decodes in[0..n) into out (room for n * 3 / 4 + 3 bytes), *out_len set.
 * Accepts the standard and the URL-safe alphabet, with or without '='
 * padding (padding, when present, must be complete); refuses anything
 * else (whitespace included) with -1.
 */
int base64_decode(const char *in, size_t n, uint8_t *out, size_t *out_len);

#endif /* METASTORE_SERVER_JSON_H */
