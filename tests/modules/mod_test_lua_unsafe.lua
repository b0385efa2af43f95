-- A module the operator lists in lua_unsafe_modules: it gets the whole
-- standard library.  <iq type='get'><reach xmlns='urn:mynah:test:lua'/></iq>
-- answers which of the guarded functions it can reach.
local st = require "mynah.stanza"

module:hook("iq-get/host/urn:mynah:test:lua:reach", function(event)
    local reachable = {}
    if type(os.execute) == "function" then reachable[#reachable + 1] = "os.execute" end
    if type(io) == "table" and io.popen then reachable[#reachable + 1] = "io.popen" end
    if type(package) == "table" and package.loadlib then reachable[#reachable + 1] = "package.loadlib" end
    if type(debug) == "table" then reachable[#reachable + 1] = "debug" end
    module:send(st.reply(event.stanza):tag("answer", { xmlns = "urn:mynah:test:lua" })
        :text(#reachable > 0 and table.concat(reachable, ",") or "none"))
    return true
end)
