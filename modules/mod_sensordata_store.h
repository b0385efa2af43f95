/*
 * mod_sensordata's memory of what things reported (XEP-0323 <fields/>):
 * each thing's latest value of every field (a keyval store) and a bounded
 * history of its readouts (an archive), and the answers built from them
 * while a thing sleeps.
 */
#ifndef SENSORDATA_STORE_H
#define SENSORDATA_STORE_H

#include <mynah/mynah.h>

typedef struct sd_store sd_store;

typedef struct sd_limits {
    long long history_max;  /* readouts kept per thing (0: no history) */
    double history_days;    /* older readouts go (0: no age limit) */
    long long answer_max;   /* most readouts in one stored answer */
    int keep_latest;        /* keep the latest values */
} sd_limits;

sd_store *sd_store_open(const mynah_api *api, mynah_module *module,
                        mynah_host *host);
void sd_store_close(sd_store *store);
/* The limits in force (options are read again on each change). */
void sd_store_set_limits(sd_store *store, const sd_limits *limits);

/* Keeps what a <fields/> element a thing (bare JID) sent says. */
void sd_store_record(sd_store *store, const char *thing,
                     const mynah_element *fields);

/* Drops readouts past the limits, for every thing seen (periodically). */
void sd_store_prune_all(sd_store *store);

/* An answer to the request `req` (a <req/> element) from what is stored:
 * cb gets a new <fields seqnr='..' done='true'/> stanza (not a message:
 * the caller wraps it) and the time of the newest value in it, or NULL
 * when nothing at all is stored for the thing.  `allowed` limits the
 * fields (NULL-terminated; NULL: no limit).  The callback may run before
 * this returns. */
typedef void (*sd_answer_cb)(mynah_stanza *fields, long long newest_micros,
                             void *userdata);
void sd_store_answer(sd_store *store, const char *thing,
                     const mynah_element *req, const char *const *allowed,
                     sd_answer_cb cb, void *userdata);

/* What a <req/> asks for, read once. */
typedef struct sd_request {
    int all;         /* all='true' (or no field type at all: see .c) */
    int any_type;    /* some field type was given */
    int momentary, peak, status, computed, identity;
    int historical;  /* historical or any historical* */
    long long from;  /* µs; 0: none */
    long long to;    /* µs; 0: none */
} sd_request;

/* Parses the field types and the from/to range; -1 on a bad range. */
int sd_request_read(const mynah_api *api, const mynah_element *req,
                    sd_request *out);
/* 1 when a field element (numeric, string, ...) is of a type the request
 * wants ("union of the corresponding field types", XEP-0323). */
int sd_field_wanted(const mynah_api *api, const sd_request *r,
                    const mynah_element *field, int historical_part);

#endif
