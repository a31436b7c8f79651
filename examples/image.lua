-- Image question: send a local image (inline, as a data: URI) with a question.
--   lua5.4 examples/image.lua photo.jpg "What is in this picture?"
local oaichat = require("oaichat")

-- Without an argument, use the tiny PNG shipped with the specs.
local here = (arg[0] or ""):match("^(.*)[/\\]") or "."
local path = arg[1] or (here .. "/../spec/fixtures/red.png")

local client = oaichat.new()
local conv = client:conversation({ system = "Describe images in one sentence." })
local text, err = conv:say(oaichat.user({
  arg[2] or "What colour is this image?",
  oaichat.image_file(path, { detail = "low" }),  -- raises naming the path if it is not an image
}))
if not text then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
print(text)
