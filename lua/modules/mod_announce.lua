-- mod_announce: the server's administrators (the `admins` option) send a
-- message to every online user, by writing to HOST/announce/online as
-- with Prosody.  Everyone else is refused with <forbidden/>.
--
-- Each client session of the host gets a copy of the message, from the
-- host, with its own 'to'.  Local sessions (bots) are skipped.
local jid = require "mynah.jid"
local st = require "mynah.stanza"

module.version = "1.0"

local function is_admin(address)
    local bare = address and jid.prep(jid.bare(address))
    if not bare then return false end
    for _, admin in ipairs(module:get_option_array("admins")) do
        if jid.prep(admin) == bare then return true end
    end
    return false
end

-- Returns how many sessions got it.
local function announce(message)
    local sent = 0
    for session in module:sessions() do
        local to = session:jid()
        if session.type == "c2s" and to then
            local copy = st.clone(message)
            copy.attr.from = module.host
            copy.attr.to = to
            module:send(copy)
            sent = sent + 1
        end
    end
    return sent
end

module:hook("message/host", function(event)
    local stanza = event.stanza
    if jid.resource(stanza.attr.to or "") ~= "announce/online" then return end
    if stanza.attr.type == "error" then return true end
    -- RFC 6120 §8.3.3.5: the sender is known but not allowed
    if not is_admin(stanza.attr.from) then
        module:log("warn", "%s tried to send an announcement", tostring(stanza.attr.from))
        module:send(st.error_reply(stanza, "auth", "forbidden",
                                   "Only administrators may send announcements"))
        return true
    end
    if not stanza:get_child("body") then
        module:send(st.error_reply(stanza, "modify", "bad-request",
                                   "An announcement needs a body"))
        return true
    end
    local sent = announce(stanza)
    module:log("info", "announcement from %s sent to %d sessions", stanza.attr.from, sent)
    return true
end)
