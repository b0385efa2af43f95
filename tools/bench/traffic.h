/*
 * Message traffic between ready clients, and its measurement: open loop
 * (a fixed total rate, paced by a 1 ms timer) or closed loop (a window of
 * messages in flight per sender).  Each body carries the sender's index
 * and a CLOCK_MONOTONIC timestamp; the receiver takes the latency from
 * it.  Shared by the msg mode (chat, one recipient) and the muc mode
 * (groupchat, fanned out to every occupant).
 */
#ifndef MYNAH_BENCH_TRAFFIC_H
#define MYNAH_BENCH_TRAFFIC_H

#include <stddef.h>

#include "client.h"

/* Sets what c sends: <message to='to' type='type'><body>b:INDEX:... */
int traffic_prepare(client *c, const char *to, const char *type);

/* Starts sending from every client of the pool (all prepared).  fanout:
 * deliveries per message (1 for chat, occupants for groupchat); with
 * groupchat a sender's window is replenished when its own message comes
 * back from the room.  done runs after the measured interval and the
 * drain. */
void traffic_start(size_t fanout, int groupchat, void (*done)(void));

/* A stanza a ready client received. */
void traffic_on_element(client *c, const char *el, size_t len);

/* A sender lost its connection: its window is gone. */
void traffic_on_failed(client *c);

/* Adds the results (and the CPU of the measured interval) to the report. */
void traffic_report(void);

#endif
