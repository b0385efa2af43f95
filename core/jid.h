/*
 * JIDs (RFC 7622), parsed and prepared once at the edge.
 *
 * Preparation follows what deployed servers do: nodeprep for the local
 * part, nameprep per label for the domain (validated with libidn2 under
 * IDNA2008/UTS#46, kept as lowercased U-labels; IP literals in RFC 5952
 * form), resourceprep for the resource.  Each part must be 1..1023 bytes
 * after preparation.  Inside the core a JID is always valid and two JIDs are
 * equal exactly when their prepared strings are.  core/jid.c explains the
 * choices where stringprep and RFC 7622 (PRECIS) differ.
 *
 * A mynah_jid is one allocation: the part accessors return strings inside
 * it, valid until jid_free.
 */
#ifndef MYNAH_JID_H
#define MYNAH_JID_H

#include <stddef.h>
#include <mynah/types.h>

#define JID_PART_MAX 1023

/* NULL if malformed (the caller answers jid-malformed). */
mynah_jid *jid_new(const char *text);
/* Builds from parts (local and resource may be NULL); NULL if invalid. */
mynah_jid *jid_from_parts(const char *local, const char *domain,
                          const char *resource);
mynah_jid *jid_copy(const mynah_jid *jid);
void jid_free(mynah_jid *jid);

const char *jid_full(const mynah_jid *jid);
const char *jid_bare(const mynah_jid *jid);
const char *jid_part(const mynah_jid *jid, enum mynah_jid_part part);
static inline const char *jid_local(const mynah_jid *j) { return jid_part(j, MYNAH_JID_LOCAL); }
static inline const char *jid_domain(const mynah_jid *j) { return jid_part(j, MYNAH_JID_DOMAIN); }
static inline const char *jid_resource(const mynah_jid *j) { return jid_part(j, MYNAH_JID_RESOURCE); }

/* Prepares one text form into out (malloc'd, "full" form).  Returns 0, or
 * -1 if malformed.  Used by the router to normalise 'to' and 'from' without
 * keeping a mynah_jid. */
int jid_prepare_string(const char *text, char **out);

/* 1 if text is a valid JID already in its prepared form (routing can use
 * it as is), 0 if valid but preparing would change it, -1 if malformed.
 * Allocates nothing: the router calls it for every 'to' a client sends. */
int jid_check_prepared(const char *text);

/* Individual profiles, for SASL usernames, resource binding and host names
 * in the config.  Each applies the same rules as the matching part of a JID
 * (so jid_nameprep also removes a trailing dot, converts A-labels and
 * accepts IP literals) and returns a malloc'd prepared string, or NULL if
 * the input is invalid. */
char *jid_nodeprep(const char *text);
char *jid_nameprep(const char *text);
char *jid_resourceprep(const char *text);

#endif
