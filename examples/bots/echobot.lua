-- echobot: says back whatever it is told.
return {
    status = "I repeat what you say",

    on_message = function(bot, message)
        if message.attr.type == "error" then return end
        local body = message:get_child_text("body")
        if body then bot:reply(message, body) end
    end,
}
