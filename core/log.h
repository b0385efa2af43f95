/*
 * Logging: one line per event, "TIME LEVEL WHO: message".
 * WHO names the session ("c2s7"), module ("mod_roster") or subsystem.
 * Configured by the `log` option (Prosody's forms: "*console", a file
 * name, or { level = "file" } tables).
 */
#ifndef MYNAH_LOG_H
#define MYNAH_LOG_H

#include <stdarg.h>
#include <mynah/types.h>

void log_msg(int level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(int level, const char *who, const char *fmt, va_list ap);
/* True when a message at this level would be written (skip costly work). */
int log_enabled(int level);
void log_set_level(int level);
/* "debug", "info", "warn"/"warning", "error"; -1 when unknown. */
int log_level_from_name(const char *name);
/* Sends lines at or above min_level to a file (NULL = stderr).  0 or -1. */
int log_open(const char *path, int min_level);
void log_close(void);

#endif
