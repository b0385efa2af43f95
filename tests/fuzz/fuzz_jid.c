/*
 * libFuzzer target for core/jid.c.  The input, cut at its first NUL, is
 * given to every entry point, and the invariants the rest of the core
 * relies on are checked:
 *   - jid_new and jid_prepare_string accept the same strings and agree;
 *   - preparation is idempotent (a prepared JID prepares to itself);
 *   - the bare form is a prefix of the full form, the parts put together
 *     give the full form, and no part is longer than JID_PART_MAX;
 *   - jid_copy and jid_from_parts rebuild the same JID;
 *   - each single profile is idempotent and bounded as well.
 * A broken invariant aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond, const char *what, const char *text)
{
    if (!cond) {
        fprintf(stderr, "fuzz_jid: %s (input \"%s\")\n", what, text);
        abort();
    }
}

static void check_part(const char *part, const char *text)
{
    if (part != NULL)
        require(strlen(part) >= 1 && strlen(part) <= JID_PART_MAX,
                "part length out of 1..JID_PART_MAX", text);
}

static void check_jid(const mynah_jid *jid, const char *text)
{
    const char *full = jid_full(jid), *bare = jid_bare(jid);
    const char *local = jid_local(jid), *domain = jid_domain(jid);
    const char *resource = jid_resource(jid);
    size_t bare_len = strlen(bare);
    char *joined;
    mynah_jid *copy, *rebuilt;

    require(domain != NULL, "no domain", text);
    check_part(local, text);
    check_part(domain, text);
    check_part(resource, text);
    require(strncmp(full, bare, bare_len) == 0, "bare is not a prefix of full",
            text);
    require(full[bare_len] == '\0' || full[bare_len] == '/',
            "bare does not end where the resource starts", text);

    joined = malloc(strlen(full) + 1);
    sprintf(joined, "%s%s%s%s%s", local ? local : "", local ? "@" : "",
            domain, resource ? "/" : "", resource ? resource : "");
    require(strcmp(joined, full) == 0, "parts do not make the full JID", text);
    free(joined);

    copy = jid_copy(jid);
    require(copy && strcmp(jid_full(copy), full) == 0 &&
            strcmp(jid_bare(copy), bare) == 0, "copy differs", text);
    jid_free(copy);

    rebuilt = jid_from_parts(local, domain, resource);
    require(rebuilt && strcmp(jid_full(rebuilt), full) == 0,
            "jid_from_parts of the parts differs", text);
    jid_free(rebuilt);
}

static void check_profile(char *(*profile)(const char *), const char *text,
                          const char *name)
{
    char *once = profile(text), *twice;

    if (once == NULL)
        return;
    require(strlen(once) <= JID_PART_MAX, name, text);
    twice = profile(once);
    require(twice && strcmp(once, twice) == 0, name, text);
    free(twice);
    free(once);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char *prepared = NULL, *again = NULL;
    mynah_jid *jid;
    int rc;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    jid = jid_new(text);
    rc = jid_prepare_string(text, &prepared);
    require((jid != NULL) == (rc == 0), "jid_new and jid_prepare_string disagree",
            text);
    if (jid != NULL) {
        require(strcmp(jid_full(jid), prepared) == 0,
                "jid_full differs from jid_prepare_string", text);
        check_jid(jid, text);
        require(jid_prepare_string(prepared, &again) == 0 &&
                strcmp(again, prepared) == 0, "preparation is not idempotent",
                text);
        jid_free(jid);
    } else {
        require(prepared == NULL, "output left after a failure", text);
    }
    free(prepared);
    free(again);

    check_profile(jid_nodeprep, text, "nodeprep not idempotent or too long");
    check_profile(jid_nameprep, text, "nameprep not idempotent or too long");
    check_profile(jid_resourceprep, text,
                  "resourceprep not idempotent or too long");
    free(text);
    return 0;
}
