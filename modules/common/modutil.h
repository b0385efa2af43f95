/*
 * modutil: small helpers that several modules need alike, built once as
 * a convenience library (modules/common/libmodcommon.la) and linked into
 * each module that uses it.  Modules link nothing of the core, so these
 * work only through the module API: call modutil_init() from the
 * module's init before anything else here.
 */
#ifndef MODUTIL_H
#define MODUTIL_H

#include <stddef.h>

#include <mynah/mynah.h>

/* Keeps the function table for the helpers below (each module that links
 * the library has its own copy of this state). */
void modutil_init(const mynah_api *api);

/* ---- answering ---- */

/* Routes an RFC 6120 error reply to stanza (text may be NULL); nothing
 * when out of memory. */
void modutil_reply_error(const mynah_stanza *stanza, const char *type,
                         const char *condition, const char *text);
/* Routes an empty result to an iq. */
void modutil_reply_result(const mynah_stanza *iq);

/* ---- JIDs ---- */

/* The local part of a prepared bare JID ("alice" of "alice@example.org"),
 * into out; -1 when it has none (or jid is NULL) or it does not fit. */
int modutil_local_part(const char *jid, char *out, size_t size);
/* Prepares text as a JID and gives its bare form, malloc'd; NULL when
 * text is NULL or not a valid JID (or out of memory). */
char *modutil_bare_jid(const char *text);

/* ---- elements ---- */

/* True when the element's own text (beside its children) is only XML
 * white space: text there makes a payload malformed. */
int modutil_text_is_blank(mynah_element *element);

/* ---- stream features ---- */

/* For a "stream-features" handler: adds <name xmlns=ns/> to the features
 * when they offer resource binding (the stream is authenticated), so a
 * feature about the session is announced at the right time only. */
void modutil_add_bound_feature(mynah_event *event, const char *name,
                               const char *ns);

#endif
