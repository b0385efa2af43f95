/* Stanza trees: building, serializing, parsing, copying, replies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stanza.h"
#include "tap.h"

/* Serialization as a stream with this content namespace would write it. */
static char *ser(const mynah_stanza *st, const char *default_ns)
{
    buf out = BUF_INIT;
    if (stanza_serialize(st, default_ns, &out) < 0)
        return NULL;
    char *s = buf_strdup(&out);
    buf_free(&out);
    return s;
}

/* Checks a serialization and frees it. */
static void is_ser(const mynah_stanza *st, const char *default_ns,
                   const char *want, const char *what)
{
    char *got = ser(st, default_ns);
    is_str(got, want, what);
    free(got);
}

/* parse -> to_string; NULL if it does not parse. */
static char *reparse(const char *xml)
{
    mynah_stanza *st = stanza_parse(xml, strlen(xml));
    if (st == NULL)
        return NULL;
    char *s = stanza_to_string(st, NULL);
    stanza_unref(st);
    return s;
}

static void test_build_and_serialize(void)
{
    mynah_stanza *st = stanza_new("message", NULL);
    ok(st != NULL, "stanza_new");
    is_str(stanza_name(st), "message", "name");
    is_str(stanza_xmlns(st), NS_CLIENT, "NULL namespace is jabber:client");
    is_int(stanza_refcount(st), 1, "new stanza has one reference");
    ok(stanza_set_attr(st, "to", "juliet@example.com") == 0, "set to");
    ok(stanza_set_attr(st, "type", "chat") == 0, "set type");
    mynah_element *body = element_add_child(stanza_root(st), "body", NULL);
    ok(body != NULL, "add body");
    is_str(element_xmlns(body), NS_CLIENT, "child inherits the namespace");
    ok(element_add_text(body, "hi", 2) == 0, "add text");
    ok(element_stanza(body) == st, "element knows its stanza");
    ok(element_parent(body) == stanza_root(st), "element knows its parent");

    const char *plain =
        "<message to='juliet@example.com' type='chat'><body>hi</body></message>";
    is_ser(st, NS_CLIENT, plain, "no xmlns on a c2s stream");
    is_ser(st, NS_SERVER, plain, "none on s2s either: content namespace");
    is_ser(st, NS_COMPONENT, plain, "nor on a component stream");
    is_ser(st, NULL,
           "<message xmlns='jabber:client' to='juliet@example.com' "
           "type='chat'><body>hi</body></message>",
           "xmlns when there is no default namespace");
    is_ser(st, NS_STREAMS,
           "<message xmlns='jabber:client' to='juliet@example.com' "
           "type='chat'><body>hi</body></message>",
           "xmlns when the default namespace differs");
    size_t len;
    char *s = stanza_to_string(st, &len);
    is_str(s, plain, "stanza_to_string omits jabber:client");
    is_int(len, strlen(plain), "stanza_to_string length");
    free(s);
    stanza_unref(st);

    st = stanza_new("features", NS_STREAMS);
    element_add_child(stanza_root(st), "bind", NS_XMPP_BIND);
    is_ser(st, NS_CLIENT,
           "<features xmlns='http://etherx.jabber.org/streams'>"
           "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></features>",
           "non-content root keeps its xmlns");
    stanza_unref(st);
}

static void test_escaping(void)
{
    const char *nasty = "a & b < c > d ' e \" f";
    mynah_stanza *st = stanza_new("message", NULL);
    stanza_set_attr(st, "id", nasty);
    mynah_element *body = element_add_child(stanza_root(st), "body", NULL);
    element_add_text(body, nasty, strlen(nasty));
    const char *want =
        "<message id='a &amp; b &lt; c &gt; d &apos; e &quot; f'>"
        "<body>a &amp; b &lt; c &gt; d &apos; e &quot; f</body></message>";
    is_ser(st, NS_CLIENT, want, "text and attribute values escaped");

    char *xml = stanza_to_string(st, NULL);
    mynah_stanza *back = stanza_parse(xml, strlen(xml));
    ok(back != NULL, "escaped output parses");
    is_str(stanza_attr(back, "id"), nasty, "attribute value survives");
    is_str(element_text(element_child(stanza_root(back), "body", NULL)), nasty,
           "text survives");
    free(xml);
    stanza_unref(back);
    stanza_unref(st);

    /* Whitespace a parser would normalize must come back the same. */
    st = stanza_new("x", "urn:t");
    stanza_set_attr(st, "v", "a\tb\nc\rd");
    element_add_text(stanza_root(st), "1\r\n2", 4);
    xml = stanza_to_string(st, NULL);
    back = stanza_parse(xml, strlen(xml));
    ok(back != NULL, "whitespace-escaped output parses");
    is_str(stanza_attr(back, "v"), "a\tb\nc\rd", "tab/LF/CR in attribute");
    is_str(element_text(stanza_root(back)), "1\r\n2", "CR in text");
    free(xml);
    stanza_unref(back);
    stanza_unref(st);
}

static void test_namespaces(void)
{
    mynah_stanza *st = stanza_new("iq", NULL);
    mynah_element *root = stanza_root(st);
    mynah_element *query = element_add_child(root, "query", "jabber:iq:roster");
    mynah_element *item = element_add_child(query, "item", NULL);
    is_str(element_xmlns(item), "jabber:iq:roster", "grandchild inherits");
    element_set_attr(item, "jid", "romeo@example.net");
    mynah_element *other = element_add_child(query, "group", "urn:other");
    element_add_child(other, "in", NS_CLIENT);
    ok(element_set_attr(root, "xml:lang", "en") == 0, "set xml:lang");
    is_str(element_attr_ns(root, NS_XML, "lang"), "en",
           "xml:lang is the attribute (NS_XML, lang)");
    is_str(element_attr(root, "xml:lang"), "en", "xml:lang shorthand");
    ok(element_set_attr_ns(item, "urn:ext", "flag", "1") == 0,
       "namespaced attribute");
    ok(element_set_attr_ns(item, "urn:ext2", "flag", "2") == 0,
       "same name, other namespace");
    is_str(element_attr_ns(item, "urn:ext", "flag"), "1", "lookup by ns 1");
    is_str(element_attr_ns(item, "urn:ext2", "flag"), "2", "lookup by ns 2");
    ok(element_attr(item, "flag") == NULL, "not an unqualified attribute");
    is_ser(st, NS_CLIENT,
           "<iq xml:lang='en'><query xmlns='jabber:iq:roster'>"
           "<item jid='romeo@example.net' xmlns:ns1='urn:ext' ns1:flag='1' "
           "xmlns:ns2='urn:ext2' ns2:flag='2'/>"
           "<group xmlns='urn:other'><in xmlns='jabber:client'/></group>"
           "</query></iq>",
           "xmlns where the namespace changes, prefixes for attributes");

    char *xml = stanza_to_string(st, NULL);
    mynah_stanza *back = stanza_parse(xml, strlen(xml));
    ok(back != NULL, "namespaced output parses");
    mynah_element *q = element_child(stanza_root(back), "query",
                                     "jabber:iq:roster");
    ok(q != NULL, "query found by namespace");
    mynah_element *it = q ? element_child(q, "item", NULL) : NULL;
    ok(it != NULL, "item found with the parent's namespace");
    is_str(it ? element_attr_ns(it, "urn:ext2", "flag") : NULL, "2",
           "namespaced attribute parsed back");
    is_str(element_attr(stanza_root(back), "xml:lang"), "en",
           "xml:lang parsed back");
    free(xml);
    stanza_unref(back);

    ok(element_child(root, "query", NULL) == NULL,
       "child lookup defaults to the element's namespace");
    ok(element_child(root, NULL, "jabber:iq:roster") == query,
       "any name in a namespace");
    stanza_unref(st);

    /* Prefixed elements and the empty namespace, from the wire. */
    const char *in = "<x:foo xmlns:x='urn:x' xmlns:y='urn:y' y:a='1' b='2'>"
                     "<x:bar/><baz xmlns=''/></x:foo>";
    st = stanza_parse(in, strlen(in));
    ok(st != NULL, "prefixed element parses");
    is_str(stanza_xmlns(st), "urn:x", "prefix resolved");
    is_str(stanza_name(st), "foo", "local name");
    is_str(element_attr_ns(stanza_root(st), "urn:y", "a"), "1",
           "prefixed attribute resolved");
    is_str(stanza_attr(st, "b"), "2", "plain attribute");
    mynah_element *baz = element_child(stanza_root(st), "baz", "");
    ok(baz != NULL, "element in no namespace");
    is_str(baz ? element_xmlns(baz) : NULL, "", "no namespace is \"\"");
    is_ser(st, NS_CLIENT,
           "<foo xmlns='urn:x' xmlns:ns0='urn:y' ns0:a='1' b='2'><bar/>"
           "<baz xmlns=''/></foo>",
           "re-serialized with default namespaces");
    stanza_unref(st);
}

static void test_round_trips(void)
{
    static const char *samples[] = {
        "<message to='a@b/c' from='d@e/f' type='chat' id='x1'>"
        "<body>Hello, world</body><thread>t</thread></message>",
        "<presence><show>away</show><status xml:lang='fr'>absent</status>"
        "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' "
        "ver='v'/></presence>",
        "<iq type='result' id='r'><query xmlns='jabber:iq:roster'>"
        "<item jid='a@b' name='A &amp; B'><group>Friends</group></item>"
        "</query></iq>",
        "<message><body>mixed <b xmlns='urn:x'>bold</b> text &#x263A; "
        "\xf0\x9f\x98\x80</body></message>",
        "<message><body><![CDATA[<not a tag> & stuff]]></body></message>",
        "<foo xmlns='urn:x' xmlns:q='urn:q' q:one='1' q:two='2'>"
        "<bar xmlns=''><baz/></bar></foo>",
        "<a xmlns='jabber:server'><b/></a>",
    };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char *once = reparse(samples[i]);
        ok(once != NULL, "sample parses");
        char *twice = once ? reparse(once) : NULL;
        is_str(twice, once, "parse -> serialize -> parse is stable");
        free(once);
        free(twice);
    }
    char *s = reparse("<message><body>a&amp;b&lt;c</body></message>");
    is_str(s, "<message><body>a&amp;b&lt;c</body></message>",
           "entities round-trip");
    free(s);
}

static void test_parse_rejects(void)
{
    static const char *bad[] = {
        "",
        "   ",
        "just text",
        "<a/><b/>",
        "<a/>junk",
        "<a>",
        "<a></b>",
        "<a/><!-- c -->",
        "<!-- c --><a/>",
        "<?pi x?><a/>",
        "<a><?pi x?></a>",
        "<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
        "<a>&unknown;</a>",
        "<p:a/>",
        "<a>\x01</a>",
        "<a>\xc3\x28</a>",
        "<?xml version='1.0'?><a/>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mynah_stanza *st = stanza_parse(bad[i], strlen(bad[i]));
        char what[160];
        snprintf(what, sizeof what, "stanza_parse rejects \"%s\"", bad[i]);
        ok(st == NULL, what);
        stanza_unref(st);
    }
    const char with_nul[] = "<a>x\0y</a>";
    ok(stanza_parse(with_nul, sizeof with_nul - 1) == NULL,
       "stanza_parse rejects a NUL byte");
    mynah_stanza *st = stanza_parse(" \n<a/>\n ", 8);
    ok(st != NULL, "whitespace around the element is fine");
    stanza_unref(st);
}

static void test_refcount_and_copy(void)
{
    mynah_stanza *st = stanza_new("message", NULL);
    stanza_set_attr(st, "to", "a@b");
    mynah_element *body = element_add_child(stanza_root(st), "body", NULL);
    element_add_text(body, "original", 8);
    ok(stanza_ref(st) == st, "stanza_ref returns the stanza");
    is_int(stanza_refcount(st), 2, "two references");
    stanza_unref(st);
    is_int(stanza_refcount(st), 1, "back to one");

    mynah_stanza *copy = stanza_copy(st);
    ok(copy != NULL && copy != st, "copy is a new stanza");
    is_int(stanza_refcount(copy), 1, "copy has one reference");
    stanza_set_attr(copy, "to", "c@d");
    mynah_element *cbody = element_child(stanza_root(copy), "body", NULL);
    element_add_text(cbody, " changed", 8);
    element_add_child(stanza_root(copy), "extra", "urn:x");
    is_str(stanza_attr(st, "to"), "a@b", "original attribute untouched");
    is_str(element_text(body), "original", "original text untouched");
    ok(element_child(stanza_root(st), "extra", "urn:x") == NULL,
       "original children untouched");
    stanza_unref(st);
    is_str(element_text(cbody), "original changed",
           "copy lives on after the original is freed");
    is_ser(copy, NS_CLIENT,
           "<message to='c@d'><body>original changed</body>"
           "<extra xmlns='urn:x'/></message>",
           "copy serializes");
    stanza_unref(copy);

    /* element_copy_into: a subtree into another stanza. */
    const char *src = "<message><x xmlns='urn:x' a='1'>t<y>u</y>v</x></message>";
    mynah_stanza *from = stanza_parse(src, strlen(src));
    mynah_stanza *to = stanza_new("iq", NULL);
    mynah_element *x = element_child(stanza_root(from), "x", "urn:x");
    mynah_element *moved = element_copy_into(stanza_root(to), x);
    ok(moved != NULL, "element_copy_into");
    ok(element_stanza(moved) == to, "copy belongs to the target stanza");
    stanza_unref(from);
    is_ser(to, NS_CLIENT, "<iq><x xmlns='urn:x' a='1'>t<y>u</y>v</x></iq>",
           "copied subtree keeps text order and namespaces");
    ok(element_copy_into(moved, stanza_root(to)) == NULL,
       "copying an element into itself is refused");
    stanza_unref(to);
}

static void test_replies(void)
{
    const char *in = "<iq type='get' id='q1' from='romeo@example.net/orchard' "
                     "to='example.net'><query xmlns='jabber:iq:version'/></iq>";
    mynah_stanza *iq = stanza_parse(in, strlen(in));
    mynah_stanza *reply = stanza_reply(iq);
    is_ser(reply, NS_CLIENT,
           "<iq to='romeo@example.net/orchard' from='example.net' id='q1' "
           "type='result'/>",
           "iq reply: swapped, same id, type result, no payload");
    stanza_unref(reply);

    mynah_stanza *err = stanza_error_reply(iq, "cancel",
                                           "service-unavailable", NULL);
    is_ser(err, NS_CLIENT,
           "<iq to='romeo@example.net/orchard' from='example.net' id='q1' "
           "type='error'><error type='cancel'><service-unavailable "
           "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
           "error reply shape (RFC 6120 8.3)");
    stanza_unref(err);
    err = stanza_error_reply(iq, "modify", "bad-request", "no <good>");
    is_ser(err, NS_CLIENT,
           "<iq to='romeo@example.net/orchard' from='example.net' id='q1' "
           "type='error'><error type='modify'><bad-request "
           "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
           "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no &lt;good&gt;</text>"
           "</error></iq>",
           "error reply with text");
    stanza_unref(err);
    ok(stanza_error_reply(iq, "cancel", "", NULL) == NULL,
       "empty condition refused");
    ok(stanza_error_reply(iq, "cancel", "bad-request", "\x01") == NULL,
       "invalid text refused");
    stanza_unref(iq);

    const char *msg = "<message from='a@b/c' to='d@e' type='chat'>"
                      "<body>x</body></message>";
    mynah_stanza *m = stanza_parse(msg, strlen(msg));
    reply = stanza_reply(m);
    is_ser(reply, NS_CLIENT, "<message to='a@b/c' from='d@e' type='chat'/>",
           "message reply keeps the type, drops the body");
    stanza_unref(reply);
    err = stanza_error_reply(m, "cancel", "item-not-found", NULL);
    is_str(stanza_attr(err, "type"), "error", "message error type");
    stanza_unref(err);
    stanza_unref(m);

    /* A stanza in jabber:server replies in jabber:server. */
    mynah_stanza *s2s = stanza_new("presence", NS_SERVER);
    reply = stanza_reply(s2s);
    is_str(stanza_xmlns(reply), NS_SERVER, "reply keeps the namespace");
    stanza_unref(reply);
    stanza_unref(s2s);
}

static void test_text_and_children(void)
{
    mynah_stanza *st = stanza_new("a", "urn:t");
    mynah_element *root = stanza_root(st);
    is_str(element_text(root), "", "no text is \"\"");
    element_add_text(root, "x", 1);
    mynah_element *b = element_add_child(root, "b", NULL);
    element_add_text(b, "inner", 5);
    element_add_text(root, "y", 1);
    element_add_text(root, "z", 1);
    is_str(element_text(root), "xyz", "direct text nodes joined");
    is_str(element_text(b), "inner", "child's own text");
    is_ser(st, "urn:t", "<a>x<b>inner</b>yz</a>", "text order kept");
    element_add_text(root, "!", 1);
    is_str(element_text(root), "xyz!", "text cache follows additions");

    mynah_element *c = element_add_child(root, "c", NULL);
    mynah_element *d = element_add_child(root, "d", NULL);
    ok(element_first_child(root) == b, "first child element");
    ok(element_next_sibling(b) == c, "siblings skip text");
    ok(element_next_sibling(c) == d, "next sibling");
    ok(element_next_sibling(d) == NULL, "last sibling");
    ok(element_remove(c) == 0, "remove");
    ok(element_parent(c) == NULL, "removed element has no parent");
    ok(element_next_sibling(b) == d, "unlinked");
    ok(element_remove(d) == 0, "remove the last child");
    mynah_element *e = element_add_child(root, "e", NULL);
    ok(element_next_sibling(b) == e, "append after removing the last");
    ok(element_remove(root) == -1, "the root cannot be removed");
    is_ser(st, "urn:t", "<a>x<b>inner</b>yz!<e/></a>", "after removals");

    ok(element_set_attr(root, "k1", "v1") == 0 &&
       element_set_attr(root, "k2", "v2") == 0 &&
       element_set_attr(root, "k3", "v3") == 0,
       "three attributes");
    const char *value = NULL;
    is_str(element_attr_at(root, 0, &value), "k1", "attr 0 name");
    is_str(value, "v1", "attr 0 value");
    is_str(element_attr_at(root, 2, &value), "k3", "attr 2 in order");
    ok(element_attr_at(root, 3, &value) == NULL, "past the end");
    ok(element_set_attr(root, "k2", "new") == 0, "replace");
    is_str(element_attr(root, "k2"), "new", "replaced value");
    ok(element_set_attr(root, "k2", NULL) == 0, "remove attribute");
    ok(element_attr(root, "k2") == NULL, "removed");
    is_str(element_attr_at(root, 1, NULL), "k3", "order after removal");
    const char *ns = "x";
    element_set_attr_ns(root, "urn:n", "q", "1");
    is_str(element_attr_ns_at(root, 2, &ns, &value), "q", "ns attr at");
    is_str(ns, "urn:n", "its namespace");
    element_attr_ns_at(root, 0, &ns, NULL);
    ok(ns == NULL, "unqualified attribute has no namespace");
    stanza_unref(st);
}

static void test_validation(void)
{
    ok(stanza_new("", NULL) == NULL, "empty name");
    ok(stanza_new(NULL, NULL) == NULL, "NULL name");
    ok(stanza_new("a b", NULL) == NULL, "space in name");
    ok(stanza_new("p:a", NULL) == NULL, "prefixed name");
    ok(stanza_new("1a", NULL) == NULL, "name starting with a digit");
    mynah_stanza *st = stanza_new("caf\xc3\xa9", NULL);
    ok(st != NULL, "non-ASCII name");
    stanza_unref(st);
    st = stanza_new("a", NULL);
    mynah_element *root = stanza_root(st);
    ok(element_add_child(root, "", NULL) == NULL, "empty child name");
    ok(element_add_child(root, "x>", NULL) == NULL, "'>' in child name");
    ok(element_set_attr(root, "", "v") == -1, "empty attribute name");
    ok(element_set_attr(root, "xmlns", "urn:x") == -1,
       "xmlns is not an attribute");
    ok(element_set_attr(root, "a=b", "v") == -1, "'=' in attribute name");
    ok(element_set_attr_ns(root, "http://www.w3.org/2000/xmlns/", "p", "u") ==
           -1,
       "the xmlns namespace is not for attributes");

    struct {
        const char *bytes;
        size_t len;
        int valid;
        const char *what;
    } texts[] = {
        {"plain", 5, 1, "ASCII"},
        {"tab\tnl\ncr\r", 10, 1, "tab, LF, CR allowed"},
        {"h\xc3\xa9llo \xe2\x98\xba \xf0\x9f\x98\x80", 15, 1, "UTF-8 1-4 bytes"},
        {"\xef\xbf\xbd", 3, 1, "U+FFFD allowed"},
        {"\xc2\x85", 2, 1, "U+0085 allowed"},
        {"a\0b", 3, 0, "NUL"},
        {"\x01", 1, 0, "C0 control"},
        {"\x1f", 1, 0, "U+001F"},
        {"\xc3\x28", 2, 0, "bad continuation"},
        {"\xc3", 1, 0, "truncated sequence"},
        {"\xc0\xaf", 2, 0, "overlong 2 bytes"},
        {"\xe0\x80\xaf", 3, 0, "overlong 3 bytes"},
        {"\xf0\x80\x80\xaf", 4, 0, "overlong 4 bytes"},
        {"\xed\xa0\x80", 3, 0, "surrogate"},
        {"\xef\xbf\xbe", 3, 0, "U+FFFE"},
        {"\xef\xbf\xbf", 3, 0, "U+FFFF"},
        {"\xf4\x90\x80\x80", 4, 0, "above U+10FFFF"},
        {"\xff", 1, 0, "0xFF byte"},
        {"\x80", 1, 0, "lone continuation"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int rc = element_add_text(root, texts[i].bytes, texts[i].len);
        char what[96];
        snprintf(what, sizeof what, "text %s: %s", texts[i].valid ? "ok" : "refused",
                 texts[i].what);
        is_int(rc, texts[i].valid ? 0 : -1, what);
    }
    ok(element_set_attr(root, "a", "\x02") == -1, "control char in value");
    ok(element_set_attr(root, "a", "\xc3\x28") == -1, "bad UTF-8 in value");
    ok(element_attr(root, "a") == NULL, "refused value not stored");
    stanza_unref(st);
}

static void test_arena(void)
{
    mynah_stanza *st = stanza_new("message", NULL);
    is_int(stanza_memory(st), 512, "a new stanza is one 512-byte block");
    stanza_set_attr(st, "to", "juliet@capulet.lit/balcony");
    stanza_set_attr(st, "from", "romeo@montague.lit/orchard");
    stanza_set_attr(st, "type", "chat");
    element_add_text(element_add_child(stanza_root(st), "body", NULL),
                     "Art thou not Romeo?", 19);
    is_int(stanza_memory(st), 512, "a small message fits the first block");
    stanza_set_attr(st, "id", "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d");
    ok(stanza_memory(st) <= 512 + 1024, "the next chunk is 1 KiB");
    stanza_unref(st);

    st = stanza_new("big", "urn:t");
    mynah_element *root = stanza_root(st);
    for (int i = 0; i < 2000; i++) {
        mynah_element *c = element_add_child(root, "item", NULL);
        element_set_attr(c, "n", "value");
        element_add_text(c, "some text", 9);
    }
    ok(stanza_memory(st) > 2000 * 64, "arena grew");
    int count = 0;
    for (mynah_element *c = element_first_child(root); c != NULL;
         c = element_next_sibling(c))
        count++;
    is_int(count, 2000, "all children there");
    mynah_stanza *copy = stanza_copy(st);
    char *a = stanza_to_string(st, NULL), *b = stanza_to_string(copy, NULL);
    is_str(b, a, "big copy serializes the same");
    ok(stanza_memory(copy) <= stanza_memory(st), "copy is compact");
    free(a);
    free(b);
    stanza_unref(copy);
    stanza_unref(st);

    /* Text appended in pieces stays one string. */
    st = stanza_new("t", NULL);
    for (int i = 0; i < 5000; i++)
        element_add_text(stanza_root(st), "ab", 2);
    const char *text = element_text(stanza_root(st));
    ok(strlen(text) == 10000 && text[9999] == 'b', "10000 bytes of text");
    stanza_unref(st);

    /* Deep trees: every walk is iterative. */
    st = stanza_new("d", "urn:d");
    mynah_element *el = stanza_root(st);
    for (int i = 0; i < 100000; i++)
        el = element_add_child(el, "d", NULL);
    element_add_text(el, "bottom", 6);
    copy = stanza_copy(st);
    ok(copy != NULL, "deep copy");
    size_t len;
    char *s = stanza_to_string(copy, &len);
    ok(s != NULL && len == 17 + 100000 * 3 + 6 + 100001 * 4, "deep serialize");
    mynah_stanza *back = s ? stanza_parse(s, len) : NULL;
    ok(back != NULL, "deep parse");
    free(s);
    stanza_unref(back);
    stanza_unref(copy);
    stanza_unref(st);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_speed(void)
{
    const char *in = "<message to='juliet@capulet.lit/balcony' "
                     "from='romeo@montague.lit/orchard' type='chat' "
                     "id='ktx72v49'><body>Art thou not Romeo, and a "
                     "Montague?</body><active xmlns='http://jabber.org/"
                     "protocol/chatstates'/></message>";
    mynah_stanza *st = stanza_parse(in, strlen(in));
    buf out = BUF_INIT;
    int n = 200000;
    double start = now();
    for (int i = 0; i < n; i++) {
        buf_clear(&out);
        stanza_serialize(st, NS_CLIENT, &out);
    }
    /* Speed is measured by the benchmarks, never asserted here (a noisy
     * machine would make it flaky); this only reports it. */
    double rate = n / (now() - start);
    printf("# serialize: %.0f stanzas/s\n", rate);
    ok(buf_length(&out) > 0, "repeated serialization produces output");
    buf_free(&out);

    n = 100000;
    start = now();
    for (int i = 0; i < n; i++)
        stanza_unref(stanza_copy(st));
    printf("# copy: %.0f stanzas/s\n", n / (now() - start));
    stanza_unref(st);
}

int main(void)
{
    test_build_and_serialize();
    test_escaping();
    test_namespaces();
    test_round_trips();
    test_parse_rejects();
    test_refcount_and_copy();
    test_replies();
    test_text_and_children();
    test_validation();
    test_arena();
    test_speed();
    return done_testing();
}
