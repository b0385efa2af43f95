/*
 * Helpers shared by the IoT modules that need nothing of the core: a
 * growable string, a line codec for stored records, XML Schema (xs:)
 * value checks and time stamps.
 *
 * Compiled into each module (see mk/iot.am); every name starts with iot_.
 */
#ifndef IOT_UTIL_H
#define IOT_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* ---- growable strings ---- */

typedef struct iot_buf {
    char *data; /* NUL-terminated once anything was added; may be NULL */
    size_t len;
    size_t cap;
    int failed; /* an allocation failed: the content is incomplete */
} iot_buf;

void iot_buf_add(iot_buf *b, const char *s, size_t len);
void iot_buf_adds(iot_buf *b, const char *s);
void iot_buf_printf(iot_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The content ("" when empty); valid until the next change. */
const char *iot_buf_str(const iot_buf *b);
void iot_buf_free(iot_buf *b);

/* ---- records: "key=value" lines ----
 *
 * Stored records are lines of key=value where the value escapes '\\' as
 * "\\\\" and a newline as "\\n", so any byte string survives and the
 * record stays readable in the database. */

void iot_rec_put(iot_buf *b, const char *key, const char *value);
/* Walks a record: *pos starts at 0.  Returns 1 with *key and *value
 * (malloc'd, the caller frees both) for the next line, 0 at the end, -1
 * on a malformed line or no memory. */
int iot_rec_next(const char *record, size_t len, size_t *pos, char **key,
                 char **value);

/* ---- xs: values (XML Schema Part 2 lexical forms) ----
 * Each returns 1 when the text is a valid lexical form, 0 otherwise. */

int iot_xs_boolean(const char *s, int *value);   /* true false 1 0 */
int iot_xs_int(const char *s, int32_t *value);   /* 32-bit */
int iot_xs_long(const char *s, int64_t *value);  /* 64-bit */
int iot_xs_double(const char *s, double *value); /* incl. INF, -INF, NaN */
int iot_xs_date(const char *s);
int iot_xs_time(const char *s);
int iot_xs_duration(const char *s);
/* A color as XEP-0325 sends it: RRGGBB or RRGGBBAA in hex. */
int iot_xs_color(const char *s);
/* xs:dateTime to microseconds since the Unix epoch.  A value without a
 * time zone is taken as UTC. */
int iot_xs_datetime(const char *s, int64_t *micros);

/* Microseconds since the epoch as "YYYY-MM-DDThh:mm:ssZ" (fractions are
 * kept when not zero).  out must hold 40 bytes. */
void iot_format_datetime(int64_t micros, char *out, size_t size);
/* Seconds as an xs:duration, e.g. "P1DT2H3M4S".  out: 64 bytes. */
void iot_format_duration(double seconds, char *out, size_t size);

/* ---- NULL-terminated lists of names ---- */

char **iot_list_copy(const char *const *list); /* NULL in, NULL out */
void iot_list_free(char **list);
int iot_list_has(const char *const *list, const char *name);

/* ---- small things ---- */

/* ASCII upper case copy of at most size-1 bytes. */
void iot_upper(const char *s, char *out, size_t size);
/* 1 if the attribute value means true (xs:boolean "true" or "1"). */
int iot_is_true(const char *s);
/* Fills out with `bytes` random bytes as hex (2*bytes+1 chars). */
void iot_random_hex(char *out, size_t bytes);

#endif
