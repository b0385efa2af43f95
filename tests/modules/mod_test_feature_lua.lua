-- The test feature, in Lua: what tests/modules/mod_test_feature.c does in
-- C, line for line (tests/integration/test_lua_feature.py runs both).
--
-- <iq type='get'><query xmlns='urn:example:feature'/></iq> to the host
-- counts the sender's requests and answers
-- <query xmlns='urn:example:feature'><count>N</count></query>.
local st = require "mynah.stanza"

local NS = "urn:example:feature"
module.version = "1.0"
module:options {
    test_feature_step = { type = "integer", default = 1, min = 1, max = 100,
                          doc = "how much one request adds to the count" },
}

local store = module:open_store("test_feature", "keyval")
module:add_feature(NS)

module:hook("iq-get/host/" .. NS .. ":query", function(event)
    local user = event.origin and event.origin.username
    if not user then return end
    local count = (store:get(user) or 0) + module:get_option_integer("test_feature_step")
    if not store:set(user, count) then
        module:send(st.error_reply(event.stanza, "wait", "internal-server-error"))
        return true
    end
    module:send(st.reply(event.stanza)
        :tag("query", { xmlns = NS }):tag("count"):text(tostring(count)))
    return true
end)

module:hook("iq-set/host/" .. NS .. ":query", function(event)
    module:send(st.error_reply(event.stanza, "modify", "bad-request"))
    return true
end)
