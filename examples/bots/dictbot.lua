-- dictbot: the classic first XMPP bot.  Send it a word in a chat message
-- and it answers with the definition, or "don't know about WORD".
--
-- Enable it like a module: put examples/bots on plugin_paths and "dictbot"
-- in a host's modules_enabled; dictbot@HOST is then online.
local definitions = {
    xmpp = "the Extensible Messaging and Presence Protocol (RFC 6120, RFC 6121): "
        .. "open, federated instant messaging, presence and more",
    lua = "a small, fast scripting language from PUC-Rio, made to be embedded; "
        .. "mynah runs modules and bots written in it",
    mynah = "an XMPP server written in C for instant messaging and the Internet "
        .. "of Things (and a bird that talks)",
    jid = "a Jabber ID, the address of an XMPP entity: user@domain/resource",
    stanza = "the unit of XMPP: a <message/>, a <presence/> or an <iq/>",
    bot = "a program that chats like a person; this one knows a few words",
}

return {
    version = "1.0",
    status = "Send me a word and I will tell you what it means",

    on_message = function(bot, message)
        local kind = message.attr.type
        if kind == "error" or kind == "groupchat" or kind == "headline" then return end
        local body = message:get_child_text("body")
        local word = body and body:match("^%s*(.-)%s*$")
        if not word or word == "" then return end
        local definition = definitions[word:lower()]
        if definition then
            bot:reply(message, word .. ": " .. definition)
        else
            bot:reply(message, "don't know about " .. word)
        end
    end,
}
