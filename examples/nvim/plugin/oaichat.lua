-- luacheck: globals vim
-- :OaichatAsk, :OaichatCancel and :OaichatReset (see lua/oaichat_nvim.lua);
-- setup() defines them too, for plugin managers that add this directory late.
if vim.g.loaded_oaichat then return end
vim.g.loaded_oaichat = true
require("oaichat_nvim").define_commands()
