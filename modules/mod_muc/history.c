/*
 * Discussion history (XEP-0045 §7.2.13, §7.2.14): the last messages of a
 * room, sent to whoever enters, each with a <delay/> (XEP-0203) stamped
 * by the room.
 *
 * The room keeps up to its history length (muc#maxhistoryfetch, capped by
 * max_history_messages) in a ring, in memory only.  An entering user may
 * ask for less with <history maxchars maxstanzas seconds since/>; when
 * several limits are given all apply (§7.2.14: the service "SHOULD" honour
 * each).  maxchars counts the characters of the XML of each stanza, as
 * §7.2.14 defines it, with the stanza as the room serializes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "muc.h"

void history_clear(muc_history *h)
{
    for (size_t i = 0; i < h->count; i++)
        outgoing_clear(&h->items[(h->start + i) % h->cap].out);
    free(h->items);
    h->items = NULL;
    h->cap = h->start = h->count = 0;
}

static muc_history_entry *history_at(muc_history *h, size_t index)
{
    return &h->items[(h->start + index) % h->cap];
}

/* Re-lays the ring into `cap` slots, dropping the oldest entries that do
 * not fit. */
static int history_resize(muc_history *h, size_t cap)
{
    if (cap == 0) {
        history_clear(h);
        return 0;
    }
    muc_history_entry *items = calloc(cap, sizeof *items);
    if (items == NULL)
        return -1;
    size_t drop = h->count > cap ? h->count - cap : 0;
    for (size_t i = 0; i < drop; i++)
        outgoing_clear(&history_at(h, i)->out);
    for (size_t i = drop; i < h->count; i++)
        items[i - drop] = *history_at(h, i);
    free(h->items);
    h->items = items;
    h->cap = cap;
    h->start = 0;
    h->count -= drop;
    return 0;
}

void history_trim(muc_room *room, size_t max)
{
    muc_history *h = &room->history;
    if (max != h->cap)
        history_resize(h, max);
}

static void format_stamp(double when, char *out, size_t size)
{
    time_t t = (time_t)when;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void history_add(muc_room *room, const mynah_stanza *message)
{
    muc_history *h = &room->history;
    size_t want = (size_t)room->config.history_length;
    if (want == 0)
        return;
    if (h->cap != want && history_resize(h, want) < 0)
        return;
    mynah_stanza *copy = api->stanza_copy(message);
    if (copy == NULL)
        return;
    double now = api->now();
    char stamp[32];
    format_stamp(now, stamp, sizeof stamp);
    mynah_element *delay =
        api->element_add_child(api->stanza_root(copy), "delay", NS_DELAY);
    if (delay == NULL || api->element_set_attr(delay, "from", room->jid) < 0 ||
        api->element_set_attr(delay, "stamp", stamp) < 0) {
        api->stanza_unref(copy);
        return;
    }
    muc_history_entry *slot;
    if (h->count == h->cap) { /* full: the oldest goes */
        slot = history_at(h, 0);
        outgoing_clear(&slot->out);
        h->start = (h->start + 1) % h->cap;
        h->count--;
    }
    slot = history_at(h, h->count);
    outgoing_init(&slot->out, copy);
    slot->when = now;
    slot->chars = outgoing_length(&slot->out);
    h->count++;
}

/* XEP-0082 date-time: CCYY-MM-DDThh:mm:ss[.sss](Z|(+|-)hh:mm).  -1 if
 * it is not one. */
static double parse_datetime(const char *text)
{
    struct tm tm = {0};
    int consumed = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
               &consumed) != 6 || consumed == 0)
        return -1;
    const char *p = text + consumed;
    double fraction = 0;
    if (*p == '.') {
        double scale = 0.1;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            fraction += (*p - '0') * scale;
    }
    long offset = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm, n = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n == 0)
            return -1;
        offset = (hh * 60L + mm) * 60L * (*p == '-' ? -1 : 1);
        p += 1 + n;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    return (double)t - (double)offset + fraction;
}

static long attr_count(mynah_element *request, const char *name)
{
    const char *text = request ? api->element_attr(request, name) : NULL;
    if (text == NULL)
        return -1;
    char *end;
    long n = strtol(text, &end, 10);
    return end == text || n < 0 ? -1 : n;
}

void history_send(muc_room *room, const char *to, mynah_element *request)
{
    muc_history *h = &room->history;
    long maxstanzas = attr_count(request, "maxstanzas");
    long maxchars = attr_count(request, "maxchars");
    long seconds = attr_count(request, "seconds");
    const char *since_text = request ? api->element_attr(request, "since") : NULL;
    double oldest = 0;
    if (seconds >= 0)
        oldest = api->now() - (double)seconds;
    if (since_text != NULL) {
        double since = parse_datetime(since_text);
        if (since > oldest)
            oldest = since;
    }
    /* Walk back from the newest while every limit still holds. */
    size_t take = 0;
    long chars = 0;
    while (take < h->count) {
        muc_history_entry *e = history_at(h, h->count - 1 - take);
        if (maxstanzas >= 0 && (long)take >= maxstanzas)
            break;
        if (e->when < oldest)
            break;
        if (maxchars >= 0 && chars + (long)e->chars > maxchars)
            break;
        chars += (long)e->chars;
        take++;
    }
    for (size_t i = h->count - take; i < h->count; i++)
        outgoing_send(&history_at(h, i)->out, to);
}
