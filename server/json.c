/*
 * json.c - the strict JSON parser, the JSON writer and base64 of the
 * HTTP/JSON API (see server/json.h for what is accepted).
 *
 * Happy path of the parser: a recursive descent over the text, one
 * function per JSON production; every value becomes a node in the
 * document's arena, strings are decoded into the arena as they are read.
 * Recursion depth is bounded by max_depth and the node count by
 * max_values, so a hostile body cannot exhaust the stack or the heap.
 *
 * Failure modes: the first violation stops the parse with a JSON_E* code
 * and the offset of the offending byte; the partial tree stays in the
 * arena until json_doc_free().
 */
#include "server/json.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors and names ------------------------------------------------------
 */

const char *json_strerror(int err)
{
    switch (err) {
#define JSON__ERR_TEXT(name, value, text)                                      \
    case name:                                                                 \
        return text;
        JSON_ERRORS(JSON__ERR_TEXT)
#undef JSON__ERR_TEXT
    default:
        return "unknown error";
    }
}

const char *json_type_name(enum json_type t)
{
    switch (t) {
    case JSON_NULL:
        return "null";
    case JSON_FALSE:
    case JSON_TRUE:
        return "a boolean";
    case JSON_NUMBER:
        return "a number";
    case JSON_STRING:
        return "a string";
    case JSON_ARRAY:
        return "an array";
    case JSON_OBJECT:
        return "an object";
    }
    return "?";
}

void json_limits_default(struct json_limits *l)
{
    l->max_depth = 64;
    l->max_values = 100000;
}

/* ---- arena
 * ------------------------------------------------------------------- */

#define ARENA_BLOCK_BYTES 8192u
#define ARENA_ALIGN       (alignof(max_align_t))

struct json_arena_block {
    struct json_arena_block *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

void *json_doc_alloc(struct json_doc *doc, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    if (need < n) {
        return NULL; /* overflow */
    }
    struct json_arena_block *b = doc->blocks;
    if (b == NULL || b->cap - b->used < need) {
        size_t cap = need > ARENA_BLOCK_BYTES ? need : ARENA_BLOCK_BYTES;
        if (cap > SIZE_MAX - sizeof *b) {
            return NULL;
        }
        b = malloc(sizeof *b + cap);
        if (b == NULL) {
            return NULL;
        }
        b->used = 0;
        b->cap = cap;
        b->next = doc->blocks;
        doc->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    memset(p, 0, n);
    return p;
}

void json_doc_free(struct json_doc *doc)
{
    struct json_arena_block *b = doc->blocks;
    while (b != NULL) {
        struct json_arena_block *next = b->next;
        free(b);
        b = next;
    }
    doc->blocks = NULL;
    doc->root = NULL;
    doc->values = 0;
}

/* ---- parser
 * ------------------------------------------------------------------ */

struct parser {
    const unsigned char *s;
    size_t len, pos;
    struct json_limits lim;
    struct json_doc *doc;
    unsigned depth;
};

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
        p->pos++;
    }
}

static int new_value(struct parser *p, enum json_type t,
                     struct json_value **out)
{
    if (p->doc->values >= p->lim.max_values) {
        return JSON_ETOOMANY;
    }
    struct json_value *v = json_doc_alloc(p->doc, sizeof *v);
    if (v == NULL) {
        return JSON_ENOMEM;
    }
    p->doc->values++;
    v->type = t;
    *out = v;
    return 0;
}

static int parse_value(struct parser *p, struct json_value **out);

static int hex4(struct parser *p, unsigned *out)
{
    if (p->len - p->pos < 4) {
        return JSON_ESTRING;
    }
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p->s[p->pos++];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            d = (unsigned)(c - 'A' + 10);
        } else {
            p->pos--;
            return JSON_ESTRING;
        }
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(unsigned cp, unsigned char *o)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* One well-formed UTF-8 sequence at s[0..n) (RFC 3629): its length, or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned cp, min;
    if (c < 0x80) {
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2, cp = c & 0x1fu, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, cp = c & 0x0fu, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, cp = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

/* A \u escape (the "\u" already read); a surrogate pair takes two. */
static int unicode_escape(struct parser *p, unsigned char *o, size_t *n)
{
    unsigned cp;
    int rv = hex4(p, &cp);
    if (rv != 0) {
        return rv;
    }
    if (cp >= 0xdc00 && cp <= 0xdfff) {
        return JSON_ESTRING; /* a low surrogate first */
    }
    if (cp >= 0xd800 && cp <= 0xdbff) {
        unsigned lo;
        if (p->len - p->pos < 2 || p->s[p->pos] != '\\' ||
            p->s[p->pos + 1] != 'u') {
            return JSON_ESTRING; /* a lone high surrogate */
        }
        p->pos += 2;
        if ((rv = hex4(p, &lo)) != 0) {
            return rv;
        }
        if (lo < 0xdc00 || lo > 0xdfff) {
            return JSON_ESTRING;
        }
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    *n = put_utf8(cp, o);
    return 0;
}

/* A string (the opening quote at pos): decoded into the arena. */
static int parse_string(struct parser *p, const char **out, size_t *out_len)
{
    size_t start = ++p->pos;
    /* The decoded form is never longer than the text: find the end first
     * to size the buffer. */
    size_t end = start;
    while (end < p->len && p->s[end] != '"') {
        end += p->s[end] == '\\' ? 2 : 1;
    }
    if (end >= p->len) {
        p->pos = p->len;
        return JSON_ESTRING; /* unterminated */
    }
    unsigned char *buf = json_doc_alloc(p->doc, end - start + 1);
    if (buf == NULL) {
        return JSON_ENOMEM;
    }
    size_t n = 0;
    while (p->pos < end) {
        unsigned char c = p->s[p->pos];
        if (c < 0x20) {
            return JSON_ESTRING;
        }
        if (c != '\\') {
            size_t k = utf8_seq(p->s + p->pos, end - p->pos);
            if (k == 0) {
                return JSON_ESTRING;
            }
            memcpy(buf + n, p->s + p->pos, k);
            n += k;
            p->pos += k;
            continue;
        }
        p->pos++;
        unsigned char e = p->s[p->pos++];
        static const char from[] = "\"\\/bfnrt";
        static const char to[] = "\"\\/\b\f\n\r\t";
        const char *m = e != '\0' ? strchr(from, e) : NULL;
        if (m != NULL) {
            buf[n++] = (unsigned char)to[m - from];
        } else if (e == 'u') {
            size_t k = 0;
            int rv = unicode_escape(p, buf + n, &k);
            if (rv != 0) {
                return rv;
            }
            n += k;
        } else {
            p->pos--;
            return JSON_ESTRING;
        }
    }
    if (p->pos != end) {
        return JSON_ESTRING; /* an escape ran past the closing quote */
    }
    p->pos = end + 1;
    buf[n] = '\0';
    *out = (const char *)buf;
    *out_len = n;
    return 0;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* number = [ "-" ] int [ frac ] [ exp ] (RFC 8259 section 6). */
static int parse_number(struct parser *p, struct json_value *v)
{
    size_t start = p->pos;
    const unsigned char *s = p->s;
    if (p->pos < p->len && s[p->pos] == '-') {
        p->pos++;
    }
    if (p->pos >= p->len || !is_digit(s[p->pos])) {
        return JSON_ENUMBER;
    }
    if (s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->len && is_digit(s[p->pos])) {
            return JSON_ENUMBER; /* leading zero */
        }
    } else {
        while (p->pos < p->len && is_digit(s[p->pos])) {
            p->pos++;
        }
    }
    if (p->pos < p->len && s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || !is_digit(s[p->pos])) {
            return JSON_ENUMBER;
        }
        while (p->pos < p->len && is_digit(s[p->pos])) {
            p->pos++;
        }
    }
    if (p->pos < p->len && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (s[p->pos] == '+' || s[p->pos] == '-')) {
            p->pos++;
        }
        if (p->pos >= p->len || !is_digit(s[p->pos])) {
            return JSON_ENUMBER;
        }
        while (p->pos < p->len && is_digit(s[p->pos])) {
            p->pos++;
        }
    }
    size_t n = p->pos - start;
    char *text = json_doc_alloc(p->doc, n + 1);
    if (text == NULL) {
        return JSON_ENOMEM;
    }
    memcpy(text, s + start, n);
    v->str = text;
    v->len = n;
    return 0;
}

static int parse_literal(struct parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
        return JSON_ESYNTAX;
    }
    p->pos += n;
    return 0;
}

static bool same_name(const struct json_value *a, const char *name, size_t n)
{
    return a->name_len == n && memcmp(a->name, name, n) == 0;
}

/* Array or object (the opening bracket at pos). */
static int parse_container(struct parser *p, struct json_value *v)
{
    bool object = v->type == JSON_OBJECT;
    char close = object ? '}' : ']';
    if (++p->depth > p->lim.max_depth) {
        return JSON_EDEPTH;
    }
    p->pos++;
    skip_ws(p);
    struct json_value **tail = &v->child;
    if (p->pos < p->len && p->s[p->pos] == (unsigned char)close) {
        p->pos++;
        p->depth--;
        return 0;
    }
    for (;;) {
        const char *name = NULL;
        size_t name_len = 0;
        size_t name_pos = p->pos;
        if (object) {
            if (p->pos >= p->len || p->s[p->pos] != '"') {
                return JSON_ESYNTAX;
            }
            int rv = parse_string(p, &name, &name_len);
            if (rv != 0) {
                return rv;
            }
            for (const struct json_value *c = v->child; c != NULL;
                 c = c->next) {
                if (same_name(c, name, name_len)) {
                    p->pos = name_pos;
                    return JSON_EDUPKEY;
                }
            }
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                return JSON_ESYNTAX;
            }
            p->pos++;
            skip_ws(p);
        }
        struct json_value *child = NULL;
        int rv = parse_value(p, &child);
        if (rv != 0) {
            return rv;
        }
        child->name = name;
        child->name_len = name_len;
        *tail = child;
        tail = &child->next;
        v->n++;
        skip_ws(p);
        if (p->pos >= p->len) {
            return JSON_ESYNTAX;
        }
        unsigned char c = p->s[p->pos++];
        if (c == (unsigned char)close) {
            break;
        }
        if (c != ',') {
            p->pos--;
            return JSON_ESYNTAX;
        }
        skip_ws(p);
    }
    p->depth--;
    return 0;
}

static int parse_value(struct parser *p, struct json_value **out)
{
    if (p->pos >= p->len) {
        return JSON_ESYNTAX;
    }
    unsigned char c = p->s[p->pos];
    enum json_type t;
    switch (c) {
    case '{':
        t = JSON_OBJECT;
        break;
    case '[':
        t = JSON_ARRAY;
        break;
    case '"':
        t = JSON_STRING;
        break;
    case 't':
        t = JSON_TRUE;
        break;
    case 'f':
        t = JSON_FALSE;
        break;
    case 'n':
        t = JSON_NULL;
        break;
    default:
        if (c != '-' && !is_digit(c)) {
            return JSON_ESYNTAX;
        }
        t = JSON_NUMBER;
    }
    struct json_value *v;
    int rv = new_value(p, t, &v);
    if (rv != 0) {
        return rv;
    }
    *out = v;
    switch (t) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        return parse_container(p, v);
    case JSON_STRING:
        return parse_string(p, &v->str, &v->len);
    case JSON_TRUE:
        return parse_literal(p, "true");
    case JSON_FALSE:
        return parse_literal(p, "false");
    case JSON_NULL:
        return parse_literal(p, "null");
    default:
        return parse_number(p, v);
    }
}

int json_parse(const char *text, size_t len, const struct json_limits *lim,
               struct json_doc *doc, size_t *err_offset)
{
    struct parser p = {
        .s = (const unsigned char *)text, .len = len, .doc = doc};
    memset(doc, 0, sizeof *doc);
    json_limits_default(&p.lim);
    if (lim != NULL) {
        if (lim->max_depth > 0) {
            p.lim.max_depth = lim->max_depth;
        }
        if (lim->max_values > 0) {
            p.lim.max_values = lim->max_values;
        }
    }
    skip_ws(&p);
    int rv = p.pos >= p.len ? JSON_EEMPTY : parse_value(&p, &doc->root);
    if (rv == 0) {
        skip_ws(&p);
        if (p.pos != p.len) {
            rv = JSON_ETRAILING;
        }
    }
    if (rv != 0) {
        doc->root = NULL;
    }
    if (err_offset != NULL) {
        *err_offset = p.pos;
    }
    return rv;
}

const struct json_value *json_get(const struct json_value *o, const char *name)
{
    if (o == NULL || o->type != JSON_OBJECT) {
        return NULL;
    }
    size_t n = strlen(name);
    for (const struct json_value *c = o->child; c != NULL; c = c->next) {
        if (same_name(c, name, n)) {
            return c;
        }
    }
    return NULL;
}

/* Digits of an integer literal with an optional '-': no fraction, no
 * exponent, no leading zero (as JSON numbers; strings follow the same
 * rule). */
static int int_text(const struct json_value *v, bool *neg, uint64_t *mag)
{
    if (v == NULL || (v->type != JSON_NUMBER && v->type != JSON_STRING)) {
        return -1;
    }
    const char *s = v->str;
    size_t n = v->len, i = 0;
    *neg = false;
    if (i < n && s[i] == '-') {
        *neg = true;
        i++;
    }
    if (i >= n || (s[i] == '0' && n - i > 1)) {
        return -1;
    }
    uint64_t m = 0;
    for (; i < n; i++) {
        if (!is_digit((unsigned char)s[i])) {
            return -1;
        }
        uint64_t d = (uint64_t)(s[i] - '0');
        if (m > (UINT64_MAX - d) / 10u) {
            return -1;
        }
        m = m * 10u + d;
    }
    *mag = m;
    return 0;
}

int json_int64(const struct json_value *v, int64_t *out)
{
    bool neg;
    uint64_t m;
    if (int_text(v, &neg, &m) != 0) {
        return -1;
    }
    if (neg) {
        if (m > (uint64_t)INT64_MAX + 1u) {
            return -1;
        }
        *out = m == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)m;
    } else {
        if (m > (uint64_t)INT64_MAX) {
            return -1;
        }
        *out = (int64_t)m;
    }
    return 0;
}

int json_uint64(const struct json_value *v, uint64_t *out)
{
    bool neg;
    uint64_t m;
    if (int_text(v, &neg, &m) != 0 || (neg && m != 0)) {
        return -1;
    }
    *out = m;
    return 0;
}

/* ---- writer
 * ------------------------------------------------------------------ */

void json_out_init(struct json_out *o)
{
    memset(o, 0, sizeof *o);
    o->first[0] = true;
}

void json_out_free(struct json_out *o)
{
    free(o->buf);
    o->buf = NULL;
    o->len = o->cap = 0;
}

bool json_out_failed(const struct json_out *o)
{
    return o->failed;
}

static char *reserve(struct json_out *o, size_t n)
{
    if (o->failed) {
        return NULL;
    }
    if (o->cap - o->len < n + 1) {
        size_t cap = o->cap > 0 ? o->cap : 256;
        while (cap - o->len < n + 1) {
            if (cap > SIZE_MAX / 2) {
                o->failed = true;
                return NULL;
            }
            cap *= 2;
        }
        char *b = realloc(o->buf, cap);
        if (b == NULL) {
            o->failed = true;
            return NULL;
        }
        o->buf = b;
        o->cap = cap;
    }
    return o->buf + o->len;
}

void json_out_raw(struct json_out *o, const char *s, size_t n)
{
    char *d = reserve(o, n);
    if (d != NULL) {
        memcpy(d, s, n);
        o->len += n;
        o->buf[o->len] = '\0';
    }
}

/* Before a value or key: a comma unless it is the first at this depth.
 * A value right after a key needs none. */
static void before_item(struct json_out *o, bool is_value)
{
    if (is_value && o->after_key) {
        o->after_key = false;
        return;
    }
    if (!o->first[o->depth]) {
        json_out_raw(o, ",", 1);
    }
    o->first[o->depth] = false;
}

static void begin(struct json_out *o, char c)
{
    before_item(o, true);
    json_out_raw(o, &c, 1);
    if (o->depth >= JSON_OUT_MAX_DEPTH) {
        o->failed = true;
        return;
    }
    o->first[++o->depth] = true;
}

static void end(struct json_out *o, char c)
{
    if (o->depth > 0) {
        o->depth--;
    }
    json_out_raw(o, &c, 1);
}

void json_out_begin_object(struct json_out *o)
{
    begin(o, '{');
}

void json_out_end_object(struct json_out *o)
{
    end(o, '}');
}

void json_out_begin_array(struct json_out *o)
{
    begin(o, '[');
}

void json_out_end_array(struct json_out *o)
{
    end(o, ']');
}

static void put_escaped(struct json_out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    json_out_raw(o, "\"", 1);
    size_t run = 0; /* bytes copied in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        json_out_raw(o, s + run, i - run);
        run = i + 1;
        char e[6] = {'\\', 0, 0, 0, 0, 0};
        size_t k = 2;
        switch (c) {
        case '"':
            e[1] = '"';
            break;
        case '\\':
            e[1] = '\\';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            k = 6;
        }
        json_out_raw(o, e, k);
    }
    json_out_raw(o, s + run, n - run);
    json_out_raw(o, "\"", 1);
}

void json_out_key(struct json_out *o, const char *name)
{
    json_out_key_len(o, name, strlen(name));
}

void json_out_key_len(struct json_out *o, const char *name, size_t n)
{
    before_item(o, false);
    put_escaped(o, name, n);
    json_out_raw(o, ":", 1);
    o->after_key = true;
}

void json_out_literal(struct json_out *o, const char *text, size_t n)
{
    before_item(o, true);
    json_out_raw(o, text, n);
}

void json_out_str(struct json_out *o, const char *s, size_t n)
{
    before_item(o, true);
    put_escaped(o, s, n);
}

void json_out_b64(struct json_out *o, const uint8_t *data, size_t n)
{
    before_item(o, true);
    size_t k = base64_encoded_len(n);
    char *d = reserve(o, k + 2);
    if (d == NULL) {
        return;
    }
    d[0] = '"';
    base64_encode(data, n, d + 1);
    d[k + 1] = '"';
    o->len += k + 2;
    o->buf[o->len] = '\0';
}

void json_out_int64_str(struct json_out *o, int64_t v)
{
    char b[32];
    int n = snprintf(b, sizeof b, "\"%lld\"", (long long)v);
    before_item(o, true);
    json_out_raw(o, b, (size_t)n);
}

void json_out_uint64_str(struct json_out *o, uint64_t v)
{
    char b[32];
    int n = snprintf(b, sizeof b, "\"%llu\"", (unsigned long long)v);
    before_item(o, true);
    json_out_raw(o, b, (size_t)n);
}

void json_out_int(struct json_out *o, int64_t v)
{
    char b[32];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    before_item(o, true);
    json_out_raw(o, b, (size_t)n);
}

void json_out_bool(struct json_out *o, bool v)
{
    before_item(o, true);
    json_out_raw(o, v ? "true" : "false", v ? 4 : 5);
}

/* ---- base64
 * -------------------------------------------------------------------- */

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void base64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0, k = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[k++] = b64_std[v >> 18];
        out[k++] = b64_std[(v >> 12) & 63];
        out[k++] = b64_std[(v >> 6) & 63];
        out[k++] = b64_std[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[k++] = b64_std[v >> 18];
        out[k++] = b64_std[(v >> 12) & 63];
        out[k++] = '=';
        out[k++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[k++] = b64_std[v >> 18];
        out[k++] = b64_std[(v >> 12) & 63];
        out[k++] = b64_std[(v >> 6) & 63];
        out[k++] = '=';
    }
}

static int b64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+' || c == '-') {
        return 62;
    }
    if (c == '/' || c == '_') {
        return 63;
    }
    return -1;
}

int base64_decode(const char *in, size_t n, uint8_t *out, size_t *out_len)
{
    /* Padding, when present, completes the last group of four. */
    size_t pad = 0;
    while (pad < 2 && n > pad && in[n - 1 - pad] == '=') {
        pad++;
    }
    if (pad > 0 && n % 4 != 0) {
        return -1;
    }
    size_t m = n - pad;
    if (m % 4 == 1) {
        return -1; /* 6 bits cannot make a byte */
    }
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < m; i++) {
        int d = b64_digit((unsigned char)in[i]);
        if (d < 0) {
            return -1;
        }
        acc = acc << 6 | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1u;
        }
    }
    *out_len = k;
    return 0;
}
