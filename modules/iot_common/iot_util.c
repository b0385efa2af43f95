/*
 * IoT helpers that need nothing of the core (see iot_util.h).
 */
#include "iot_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- growable strings ---- */

static int buf_reserve(iot_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (data == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

void iot_buf_add(iot_buf *b, const char *s, size_t len)
{
    if (buf_reserve(b, len) < 0)
        return;
    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void iot_buf_adds(iot_buf *b, const char *s)
{
    iot_buf_add(b, s, strlen(s));
}

void iot_buf_printf(iot_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *iot_buf_str(const iot_buf *b)
{
    return b->data ? b->data : "";
}

void iot_buf_free(iot_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

/* ---- records ---- */

void iot_rec_put(iot_buf *b, const char *key, const char *value)
{
    iot_buf_adds(b, key);
    iot_buf_add(b, "=", 1);
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            iot_buf_add(b, "\\\\", 2);
        else if (*p == '\n')
            iot_buf_add(b, "\\n", 2);
        else
            iot_buf_add(b, p, 1);
    }
    iot_buf_add(b, "\n", 1);
}

int iot_rec_next(const char *record, size_t len, size_t *pos, char **key,
                 char **value)
{
    *key = *value = NULL;
    if (*pos >= len)
        return 0;
    const char *line = record + *pos;
    const char *end = memchr(line, '\n', len - *pos);
    size_t line_len = end ? (size_t)(end - line) : len - *pos;
    *pos += line_len + (end ? 1 : 0);
    const char *eq = memchr(line, '=', line_len);
    if (eq == NULL)
        return -1;
    *key = strndup(line, (size_t)(eq - line));
    *value = malloc(line_len);
    if (*key == NULL || *value == NULL) {
        free(*key);
        free(*value);
        *key = *value = NULL;
        return -1;
    }
    size_t n = 0;
    for (const char *p = eq + 1; p < line + line_len; p++) {
        if (*p == '\\' && p + 1 < line + line_len) {
            p++;
            (*value)[n++] = *p == 'n' ? '\n' : *p;
        } else {
            (*value)[n++] = *p;
        }
    }
    (*value)[n] = '\0';
    return 1;
}

/* ---- xs: values ---- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Exactly n digits at *p, as a number; advances *p. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return 0;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

int iot_xs_boolean(const char *s, int *value)
{
    int v;
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        v = 1;
    else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        v = 0;
    else
        return 0;
    if (value)
        *value = v;
    return 1;
}

int iot_xs_long(const char *s, int64_t *value)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!is_digit(*p))
        return 0;
    for (const char *q = p; *q; q++)
        if (!is_digit(*q))
            return 0;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return 0;
    if (value)
        *value = (int64_t)v;
    return 1;
}

int iot_xs_int(const char *s, int32_t *value)
{
    int64_t v;
    if (!iot_xs_long(s, &v) || v < INT32_MIN || v > INT32_MAX)
        return 0;
    if (value)
        *value = (int32_t)v;
    return 1;
}

int iot_xs_double(const char *s, double *value)
{
    if (strcmp(s, "INF") == 0 || strcmp(s, "+INF") == 0 ||
        strcmp(s, "-INF") == 0 || strcmp(s, "NaN") == 0) {
        if (value)
            *value = s[0] == 'N' ? NAN : s[0] == '-' ? -INFINITY : INFINITY;
        return 1;
    }
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    int mantissa = 0;
    while (is_digit(*p)) {
        p++;
        mantissa++;
    }
    if (*p == '.') {
        p++;
        while (is_digit(*p)) {
            p++;
            mantissa++;
        }
    }
    if (mantissa == 0)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!is_digit(*p))
            return 0;
        while (is_digit(*p))
            p++;
    }
    if (*p != '\0')
        return 0;
    if (value)
        *value = strtod(s, NULL);
    return 1;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days[month - 1];
}

/* YYYY-MM-DD (four-digit years only). */
static int parse_date(const char **p, int *y, int *m, int *d)
{
    if (!digits(p, 4, y) || **p != '-')
        return 0;
    (*p)++;
    if (!digits(p, 2, m) || **p != '-')
        return 0;
    (*p)++;
    if (!digits(p, 2, d))
        return 0;
    return *y >= 1 && *m >= 1 && *m <= 12 && *d >= 1 &&
           *d <= days_in_month(*y, *m);
}

/* hh:mm:ss(.s+)? -> seconds of the day and microseconds. */
static int parse_time(const char **p, int *seconds, int *micros)
{
    int h, mi, s;
    if (!digits(p, 2, &h) || **p != ':')
        return 0;
    (*p)++;
    if (!digits(p, 2, &mi) || **p != ':')
        return 0;
    (*p)++;
    if (!digits(p, 2, &s))
        return 0;
    int frac = 0, scale = 100000;
    if (**p == '.') {
        (*p)++;
        if (!is_digit(**p))
            return 0;
        while (is_digit(**p)) {
            frac += (**p - '0') * scale;
            scale /= 10;
            (*p)++;
        }
    }
    if (h == 24 && (mi != 0 || s != 0 || frac != 0))
        return 0;
    if (h > 24 || mi > 59 || s > 60)
        return 0;
    *seconds = h * 3600 + mi * 60 + s;
    *micros = frac;
    return 1;
}

/* Z, +hh:mm, -hh:mm or nothing -> offset in seconds east of UTC. */
static int parse_zone(const char **p, int *offset)
{
    *offset = 0;
    if (**p == 'Z') {
        (*p)++;
        return 1;
    }
    if (**p != '+' && **p != '-')
        return 1;
    int sign = **p == '-' ? -1 : 1, h, m;
    (*p)++;
    if (!digits(p, 2, &h) || **p != ':')
        return 0;
    (*p)++;
    if (!digits(p, 2, &m) || h > 14 || m > 59)
        return 0;
    *offset = sign * (h * 3600 + m * 60);
    return 1;
}

int iot_xs_date(const char *s)
{
    int y, m, d, zone;
    return parse_date(&s, &y, &m, &d) && parse_zone(&s, &zone) && *s == '\0';
}

int iot_xs_time(const char *s)
{
    int sec, us, zone;
    return parse_time(&s, &sec, &us) && parse_zone(&s, &zone) && *s == '\0';
}

/* Days from 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int iot_xs_datetime(const char *s, int64_t *micros)
{
    int y, m, d, sec, us, zone;
    if (!parse_date(&s, &y, &m, &d) || *s != 'T')
        return 0;
    s++;
    if (!parse_time(&s, &sec, &us) || !parse_zone(&s, &zone) || *s != '\0')
        return 0;
    if (micros) {
        int64_t t = days_from_civil(y, m, d) * 86400 + sec - zone;
        *micros = t * 1000000 + us;
    }
    return 1;
}

int iot_xs_duration(const char *s)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p++ != 'P')
        return 0;
    static const char date_units[] = "YMD", time_units[] = "HMS";
    int parts = 0, in_time = 0, unit = 0;
    while (*p) {
        if (*p == 'T') {
            if (in_time)
                return 0;
            in_time = 1;
            unit = 0;
            p++;
            if (*p == '\0')
                return 0; /* "PT" names no time part */
            continue;
        }
        if (!is_digit(*p))
            return 0;
        while (is_digit(*p))
            p++;
        int fraction = 0;
        if (*p == '.') {
            p++;
            if (!is_digit(*p))
                return 0;
            while (is_digit(*p))
                p++;
            fraction = 1;
        }
        const char *units = in_time ? time_units : date_units;
        const char *u = strchr(units + unit, *p);
        if (*p == '\0' || u == NULL)
            return 0;
        if (fraction && !(in_time && *p == 'S'))
            return 0; /* only seconds take a fraction */
        unit = (int)(u - units) + 1;
        p++;
        parts++;
    }
    return parts > 0;
}

int iot_xs_color(const char *s)
{
    size_t n = strlen(s);
    if (n != 6 && n != 8)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!is_digit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F'))
            return 0;
    }
    return 1;
}

void iot_format_datetime(int64_t micros, char *out, size_t size)
{
    int64_t secs = micros / 1000000, frac = micros % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (frac == 0)
        snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)frac);
}

void iot_format_duration(double seconds, char *out, size_t size)
{
    if (seconds < 0 || !isfinite(seconds))
        seconds = 0;
    long long total = (long long)seconds;
    long long days = total / 86400, hours = total % 86400 / 3600,
              minutes = total % 3600 / 60, secs = total % 60;
    int n = snprintf(out, size, "P");
    if (days)
        n += snprintf(out + n, size - (size_t)n, "%lldD", days);
    n += snprintf(out + n, size - (size_t)n, "T");
    if (hours)
        n += snprintf(out + n, size - (size_t)n, "%lldH", hours);
    if (minutes)
        n += snprintf(out + n, size - (size_t)n, "%lldM", minutes);
    snprintf(out + n, size - (size_t)n, "%lldS", secs);
}

/* ---- lists ---- */

char **iot_list_copy(const char *const *list)
{
    if (list == NULL)
        return NULL;
    size_t n = 0;
    while (list[n])
        n++;
    char **copy = calloc(n + 1, sizeof *copy);
    if (copy == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((copy[i] = strdup(list[i])) == NULL) {
            iot_list_free(copy);
            return NULL;
        }
    return copy;
}

void iot_list_free(char **list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; list[i]; i++)
        free(list[i]);
    free(list);
}

int iot_list_has(const char *const *list, const char *name)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

/* ---- small things ---- */

void iot_upper(const char *s, char *out, size_t size)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        out[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 'a' + 'A') : s[i];
    out[i] = '\0';
}

int iot_is_true(const char *s)
{
    return s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

void iot_random_hex(char *out, size_t bytes)
{
    unsigned char raw[64];
    if (bytes > sizeof raw)
        bytes = sizeof raw;
    size_t got = 0;
    while (got < bytes) {
        ssize_t n = getrandom(raw + got, bytes - got, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)n;
    }
    /* getrandom cannot fail on a working kernel; never hand out a
     * predictable key silently even so. */
    for (; got < bytes; got++)
        raw[got] = (unsigned char)(rand() ^ (int)time(NULL));
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < bytes; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * bytes] = '\0';
}
