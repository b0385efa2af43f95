-- The Lua module the integration tests drive (tests/integration/test_lua_*.py).
-- Every request is an iq get/set to the host with a child in urn:mynah:test:lua.
local st = require "mynah.stanza"

module.version = "0.1"
module:options {
    test_lua_suffix = { type = "string", default = " [via lua]",
                        doc = "appended to message bodies in flight" },
    test_lua_timer_period = { type = "number", default = 0.1 },
}
local suffix = module:get_option_string("test_lua_suffix")

local NS = "urn:mynah:test:lua"
local store = module:open_store("test_lua", "keyval")
local notes = module:open_store("test_lua_notes", "map")
local log = module:open_store("test_lua_log", "archive")

module:add_feature(NS)
module:add_identity("automation", "test", "mod_test_lua")

-- State kept across a reload by save/restore.
local counter = 0
function module.save() return { counter = counter } end
function module.restore(data) counter = data.counter end

-- A timer that fires three times, then stops.
local ticks = 0
module:add_timer(module:get_option_number("test_lua_timer_period"), function()
    ticks = ticks + 1
    if ticks < 3 then return module:get_option_number("test_lua_timer_period") end
end)

local function result(event, text)
    local reply = st.reply(event.stanza):tag("answer", { xmlns = NS }):text(text)
    event.origin:send(reply)
    return true
end

local handlers = {}

function handlers.echo(event, payload) return result(event, payload:get_text()) end

-- Keyval store: <put>value</put>, <get/>
function handlers.put(event, payload)
    assert(store:set(event.origin.username, { text = payload:get_text(), at = os.time() }))
    return result(event, "stored")
end
function handlers.get(event)
    local v = store:get(event.origin.username)
    return result(event, v and v.text or "(nothing)")
end

-- Map and archive stores.
function handlers.note(event, payload)
    assert(notes:set(event.origin.username, payload.attr.key, payload:get_text()))
    local all, n = notes:list(event.origin.username), 0
    for _ in pairs(all) do n = n + 1 end
    return result(event, notes:get(event.origin.username, payload.attr.key) .. "/" .. n)
end
function handlers.log(event, payload)
    assert(log:append(event.origin.username, nil, "test", payload:get_text()))
    local texts = {}
    for id, value, when, with in log:find(event.origin.username, { with = "test" }) do
        texts[#texts + 1] = value
    end
    return result(event, table.concat(texts, ","))
end

function handlers.ticks(event) return result(event, tostring(ticks)) end

function handlers.count(event)
    counter = counter + 1
    return result(event, tostring(counter))
end

-- Errors: one raised, one that never ends.
function handlers.fail(event) error("this handler fails on purpose") end
function handlers.loop(event)
    local n = 0
    while true do n = n + 1 end
end
function handlers.pcall_loop(event)
    while true do pcall(function() while true do end end) end
end

-- What the sandbox lets a module reach.
function handlers.unsafe(event)
    local reachable = {}
    local function try(name, f)
        local ok, v = pcall(f)
        if ok and v then reachable[#reachable + 1] = name end
    end
    try("os.execute", function() return os.execute end)
    try("io", function() return io end)
    try("io.popen", function() return io.popen end)
    try("package.loadlib", function() return package.loadlib end)
    try("debug", function() return debug end)
    try("dofile", function() return dofile end)
    try("require os", function() return require("os").execute end)
    try("require io", function() return require("io") end)
    try("string.dump", function() return string.dump end)
    try("binary load", function()
        return load(string.char(27) .. "Lua", "x", "b")
    end)
    try("load escapes", function()
        return load("return os.execute")()
    end)
    try("_G escape", function() return getmetatable(_G) and getmetatable(_G).__index.io end)
    try("string metatable", function() return getmetatable("") end)
    try("shared string table", function()
        string.mine = true  -- this module's own copy only
        return require("string") ~= string
    end)
    return result(event, #reachable == 0 and "none" or table.concat(reachable, ","))
end

-- Pings the JID in the payload, waits for the answer, then answers.  (Not
-- the asker itself: while a handler waits, its origin's stanzas wait too.)
function handlers.ask(event, payload)
    local ping = st.iq({ type = "get", to = payload:get_text() })
        :tag("ping", { xmlns = "urn:xmpp:ping" })
    local reply, err = module:send_iq(ping, 5)
    if not reply then return result(event, "no answer: " .. err) end
    return result(event, "peer said " .. reply.attr.type)
end

-- Read-only stanzas: changing the received one must fail.
function handlers.modify(event)
    local ok, err = pcall(function() event.stanza:tag("x") end)
    local copy = st.clone(event.stanza)
    copy:tag("x"):up()
    return result(event, (ok and "changed" or "read-only") .. "," ..
        (copy:get_child("x") and "copy ok" or "copy failed"))
end

function handlers.find(event, payload)
    local s = st.message({ to = "a@b", type = "chat" })
        :tag("body"):text("hello"):up()
        :tag("x", { xmlns = "jabber:x:data", type = "form" }):up()
    local parts = { s:find("body#"), s:find("{jabber:x:data}x@type"),
                    tostring(s:get_child("body")), s.attr.type, s.name }
    return result(event, table.concat(parts, "|"))
end

module:hook("iq/host", function(event)
    local s = event.stanza
    if s.attr.type ~= "get" and s.attr.type ~= "set" then return end
    local payload
    for child in s:childtags(nil, NS) do payload = child end
    if not payload then return end
    local h = handlers[payload.name]
    if h then return h(event, payload) end
end)

-- Messages in flight get a suffix: copy, change, send the copy, and take
-- the original.
local function tag_message(event)
    local body = event.stanza:get_child_text("body")
    if not body or event.stanza.attr.type == "error" then return end
    local copy = st.clone(event.stanza)
    copy:remove_children("body"):tag("body"):text(body .. suffix):up()
    module:send(copy)
    return true
end
module:hook("pre-message/bare", tag_message)
module:hook("pre-message/full", tag_message)

-- A stream feature, added to the <stream:features/> being built.
module:hook("stream-features", function(event)
    event.features:tag("lua-feature", { xmlns = "urn:example:lua-feature" }):up()
end)
