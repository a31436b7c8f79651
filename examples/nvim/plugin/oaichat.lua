-- luacheck: globals vim
-- :OaichatAsk {prompt} and :OaichatCancel (see lua/oaichat_nvim.lua).
if vim.g.loaded_oaichat then return end
vim.g.loaded_oaichat = true

vim.api.nvim_create_user_command("OaichatAsk", function(o)
  require("oaichat_nvim").ask(o.args)
end, { nargs = "+", desc = "Stream a chat model's reply into a scratch buffer" })

vim.api.nvim_create_user_command("OaichatCancel", function()
  require("oaichat_nvim").cancel()
end, { nargs = 0, desc = "Cancel the oaichat reply in progress" })
