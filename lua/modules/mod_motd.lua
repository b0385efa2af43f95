-- mod_motd: a message of the day, sent to each client session when it
-- comes online (its initial presence, RFC 6121 §4.2), as Prosody's
-- mod_motd does.
--
--   motd_text = [[Welcome to example.org!
--                 Be nice.]]          -- leading indentation is removed
--   motd_jid = "example.org"          -- who it comes from (default: the host)
local st = require "mynah.stanza"

module.version = "1.0"
module:options {
    motd_text = { type = "string", doc = "message sent to each session at login (unset: none)" },
    motd_subject = { type = "string", doc = "subject of that message, if any" },
    motd_jid = { type = "string", doc = "address the message comes from (default: the host)" },
}

-- Lines of a long [[...]] string lose the indentation of the config file.
local function tidy(text)
    return (text:gsub("^%s+", ""):gsub("\n[ \t]+", "\n"):gsub("%s+$", ""))
end

-- Broadcast presence (no 'to', no type) from a session not yet available
-- is its initial presence: the core records it only after this event.
module:hook("pre-presence/bare", function(event)
    local stanza, origin = event.stanza, event.origin
    if stanza.attr.to or stanza.attr.type or not origin then return end
    if origin.type ~= "c2s" or origin.available then return end
    local text = module:get_option_string("motd_text")
    if not text or text:match("^%s*$") then return end
    local motd = st.message({ to = origin:jid(),
                              from = module:get_option_string("motd_jid", module.host) })
    local subject = module:get_option_string("motd_subject")
    if subject then motd:tag("subject"):text(subject):up() end
    motd:tag("body"):text(tidy(text)):up()
    module:send(motd)
end)
