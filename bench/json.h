/* json.h - a small JSON reader: parse a document into a tree, look values up by key. */
#ifndef BENCH_JSON_H
#define BENCH_JSON_H

#include <stddef.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
    enum json_type type;
    double number;          /* JSON_NUMBER, JSON_BOOL (0 or 1) */
    char *string;           /* JSON_STRING: unescaped, NUL terminated */
    char *key;              /* member name when inside an object */
    struct json *child;     /* first element or member */
    struct json *next;      /* next sibling */
};

/* Parses text[0..len). Returns NULL on a syntax error (err says where). */
struct json *json_parse(const char *text, size_t len, char *err, size_t errlen);
/* Reads and parses a whole file; NULL if it cannot be read or parsed. */
struct json *json_parse_file(const char *path, char *err, size_t errlen);
void json_free(struct json *j);

/* Member `key` of an object, or NULL (also when j is NULL or not an object). */
const struct json *json_get(const struct json *j, const char *key);
/* Number of elements of an array or members of an object. */
size_t json_count(const struct json *j);
/* A member's number, or `fallback` when it is missing or not a number. */
double json_number(const struct json *j, const char *key, double fallback);
/* A member's string, or `fallback`. */
const char *json_string(const struct json *j, const char *key, const char *fallback);

#endif
