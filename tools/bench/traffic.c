/*
 * Sending and timing messages.
 *
 * Open loop: message k is due at t0 + k/rate; a 1 ms timer sends every
 * message that has come due, stamped with the time it is sent.  The
 * sender never waits for the server (writes are non-blocking and the
 * schedule does not depend on answers), so a slow server shows up as
 * latency, not as a slower test; how late the generator itself sent
 * (timer quantum, its own stalls) is reported apart as the send lag.
 * Closed loop: every sender starts with W messages and sends the next one
 * when one of its own is delivered.
 *
 * Only deliveries received inside [t0 + warmup, t0 + warmup + duration)
 * count for throughput and latency.
 */
#include "traffic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "report.h"
#include "stats.h"
#include "xml_scan.h"

#define DRAIN_SECONDS 2.0
#define BODY_END "</body></message>"

static struct {
    size_t fanout;
    int groupchat;
    void (*done)(void);
    uint64_t t0, measure_from, measure_to;
    int sending, measuring, finished;
    uint64_t scheduled;           /* open loop: messages due so far */
    size_t next_sender;           /* open loop: round robin */
    uint64_t sent, delivered, errors, unparsed;
    uint64_t sent_in_window, delivered_in_window;
    uint64_t max_lag_ns;          /* open loop: worst lateness of a send */
    histogram latency;
    histogram send_lag;           /* open loop: due time to send time */
    struct event *tick, *phase;
    int phase_step;
    cpu_sample cpu_from, cpu_to;
} tr;

int traffic_prepare(client *c, const char *to, const char *type)
{
    char prefix[1200];
    int n = snprintf(prefix, sizeof prefix, "<message to='%s' type='%s'><body>b:%u:",
                     to, type, c->index);
    if (n < 0 || (size_t)n >= sizeof prefix)
        return -1;
    free(c->send_prefix);
    c->send_prefix = strdup(prefix);
    c->send_prefix_len = (size_t)n;
    return c->send_prefix ? 0 : -1;
}

/* Decimal digits of v at p (no NUL); returns the length. */
static size_t put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

static void send_one(client *c, uint64_t stamp, uint64_t now)
{
    if (!transport_is_open(&c->t) || c->send_prefix == NULL)
        return;
    size_t body_min = opt.body_size > 0 ? (size_t)opt.body_size : 0;
    size_t room = c->send_prefix_len + 20 + body_min + sizeof BODY_END;
    char *p = transport_reserve(&c->t, room);
    if (p == NULL)
        return;
    char *start = p;
    memcpy(p, c->send_prefix, c->send_prefix_len);
    p += c->send_prefix_len;
    size_t stamp_len = put_u64(p, stamp);
    p += stamp_len;
    if (body_min > 0) {
        /* The body so far: "b:" INDEX ":" STAMP. */
        char digits[20];
        size_t body_len = 3 + put_u64(digits, c->index) + stamp_len;
        if (body_len < body_min) {
            *p++ = ':';
            body_len++;
        }
        if (body_len < body_min) {
            memset(p, 'x', body_min - body_len);
            p += body_min - body_len;
        }
    }
    memcpy(p, BODY_END, sizeof BODY_END - 1);
    p += sizeof BODY_END - 1;
    transport_wrote(&c->t, (size_t)(p - start));
    c->in_flight++;
    tr.sent++;
    if (now >= tr.measure_from && now < tr.measure_to)
        tr.sent_in_window++;
}

static int all_delivered(void)
{
    return tr.delivered + tr.errors * tr.fanout >= tr.sent * tr.fanout;
}

static void finish(void)
{
    if (tr.finished)
        return;
    tr.finished = 1;
    event_del(tr.tick);
    event_del(tr.phase);
    tr.done();
}

/* ---- receiving ---- */

static const char *parse_u64(const char *p, const char *end, uint64_t *v)
{
    uint64_t x = 0;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9')
        x = x * 10 + (uint64_t)(*p++ - '0');
    *v = x;
    return p > start ? p : NULL;
}

void traffic_on_element(client *c, const char *el, size_t len)
{
    if (!xml_is(el, len, "message"))
        return;
    const char *end = el + len;
    const char *body = xml_find(el, len, "<body>");
    if (body == NULL)
        return; /* a room subject, a chat state... */
    const char *p = body + 6;
    uint64_t index, stamp;
    if (end - p < 4 || p[0] != 'b' || p[1] != ':' ||
        (p = parse_u64(p + 2, end, &index)) == NULL || *p != ':' ||
        parse_u64(p + 1, end, &stamp) == NULL) {
        tr.unparsed++;
        return;
    }
    client *sender = index < pool_size ? &pool[index] : NULL;
    const char *tag_end = memchr(el, '>', (size_t)(body - el));
    size_t tag_len = tag_end ? (size_t)(tag_end - el) : 0;
    int bounced = memmem(el, tag_len, "type='error'", 12) != NULL ||
                  memmem(el, tag_len, "type=\"error\"", 12) != NULL;
    uint64_t now = now_ns();
    if (bounced) {
        tr.errors++;
    } else {
        tr.delivered++;
        if (now >= tr.measure_from && now < tr.measure_to) {
            tr.delivered_in_window++;
            hist_add(&tr.latency, now > stamp ? (now - stamp) / 1000 : 0);
        }
    }
    /* Closed loop: a chat message delivered (or bounced) frees a place in
     * its sender's window; in a room, its echo to the sender does. */
    if (sender != NULL && (!tr.groupchat || sender == c || bounced)) {
        if (sender->in_flight > 0)
            sender->in_flight--;
        if (tr.sending && opt.window > 0)
            send_one(sender, now, now);
    }
    if (!tr.sending && !tr.finished && all_delivered())
        finish();
}

void traffic_on_failed(client *c)
{
    c->in_flight = 0;
}

/* ---- pacing and phases ---- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    if (!tr.sending || pool_size == 0)
        return;
    uint64_t now = now_ns();
    double per_ns = opt.rate / 1e9;
    /* Message k is due at t0 + k/rate: k = 0 at once. */
    uint64_t due = (uint64_t)((double)(now - tr.t0) * per_ns) + 1;
    while (tr.scheduled < due) {
        uint64_t due_at = tr.t0 + (uint64_t)((double)tr.scheduled / per_ns);
        uint64_t lag = now - due_at;
        if (lag > tr.max_lag_ns)
            tr.max_lag_ns = now - due_at;
        if (now >= tr.measure_from && now < tr.measure_to)
            hist_add(&tr.send_lag, lag / 1000);
        client *c = &pool[tr.next_sender];
        tr.next_sender = (tr.next_sender + 1) % pool_size;
        send_one(c, now, now);
        tr.scheduled++;
    }
}

static void arm_phase(uint64_t at)
{
    uint64_t now = now_ns();
    uint64_t wait = at > now ? at - now : 0;
    struct timeval tv = {(time_t)(wait / 1000000000ULL),
                         (suseconds_t)(wait % 1000000000ULL / 1000)};
    event_add(tr.phase, &tv);
}

static void on_phase(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    switch (tr.phase_step++) {
    case 0: /* warm-up over */
        cpu_sample_take(&tr.cpu_from);
        tr.measuring = 1;
        arm_phase(tr.measure_to);
        break;
    case 1: /* measured interval over: stop sending, let the rest arrive */
        cpu_sample_take(&tr.cpu_to);
        tr.measuring = 0;
        tr.sending = 0;
        event_del(tr.tick);
        if (all_delivered()) {
            finish();
            return;
        }
        arm_phase(now_ns() + (uint64_t)(DRAIN_SECONDS * 1e9));
        break;
    default:
        finish();
        break;
    }
}

void traffic_start(size_t fanout, int groupchat, void (*done)(void))
{
    tr.fanout = fanout ? fanout : 1;
    tr.groupchat = groupchat;
    tr.done = done;
    if (hist_init(&tr.latency) < 0 || hist_init(&tr.send_lag) < 0) {
        bench_log("out of memory");
        bench_stop();
        return;
    }
    tr.t0 = now_ns();
    tr.measure_from = tr.t0 + (uint64_t)(opt.warmup * 1e9);
    tr.measure_to = tr.measure_from + (uint64_t)(opt.duration * 1e9);
    tr.sending = 1;
    tr.phase = evtimer_new(bench_base, on_phase, NULL);
    tr.tick = event_new(bench_base, -1, EV_PERSIST, on_tick, NULL);
    arm_phase(tr.measure_from);
    bench_log("traffic: %zu senders, %s, warm-up %.1f s, measuring %.1f s",
              pool_size, opt.window > 0 ? "closed loop" : "open loop",
              opt.warmup, opt.duration);
    if (opt.window > 0) {
        uint64_t now = now_ns();
        for (size_t w = 0; w < (size_t)opt.window; w++)
            for (size_t i = 0; i < pool_size; i++)
                send_one(&pool[i], now, now);
    } else {
        struct timeval ms = {0, 1000};
        event_add(tr.tick, &ms);
    }
}

void traffic_report(void)
{
    double seconds = opt.duration;
    report_result_num("messages_sent", (double)tr.sent_in_window);
    report_result_num("messages_delivered", (double)tr.delivered_in_window);
    report_result_num("sent_per_s", (double)tr.sent_in_window / seconds);
    report_result_num("delivered_per_s", (double)tr.delivered_in_window / seconds);
    report_result_num("latency_p50_us", (double)hist_percentile(&tr.latency, 50));
    report_result_num("latency_p90_us", (double)hist_percentile(&tr.latency, 90));
    report_result_num("latency_p99_us", (double)hist_percentile(&tr.latency, 99));
    report_result_num("latency_p999_us", (double)hist_percentile(&tr.latency, 99.9));
    report_result_num("latency_max_us", (double)(tr.latency.total ? tr.latency.max : 0));
    report_result_num("latency_mean_us", hist_mean(&tr.latency));
    report_result_num("total_sent", (double)tr.sent);
    report_result_num("total_delivered", (double)tr.delivered);
    report_result_num("bounced", (double)tr.errors);
    double expected = (double)tr.sent * (double)tr.fanout;
    double missing = expected - (double)tr.delivered - (double)tr.errors * (double)tr.fanout;
    report_result_num("missing_after_drain", missing > 0 ? missing : 0);
    if (tr.unparsed)
        report_result_num("unparsed_bodies", (double)tr.unparsed);
    if (opt.window <= 0) {
        report_result_num("send_lag_p50_us", (double)hist_percentile(&tr.send_lag, 50));
        report_result_num("send_lag_p99_us", (double)hist_percentile(&tr.send_lag, 99));
        report_result_num("send_lag_max_us", (double)tr.max_lag_ns / 1000.0);
    }
    if (tr.phase_step >= 2)
        report_cpu(&tr.cpu_from, &tr.cpu_to);
    hist_free(&tr.latency);
    hist_free(&tr.send_lag);
    if (tr.tick)
        event_free(tr.tick);
    if (tr.phase)
        event_free(tr.phase);
    tr.tick = tr.phase = NULL;
}
