-- wrk script for bench/receiver.py: sends pre-signed requests from a file (one per line:
-- "<Stripe-Signature>\t<body>"), each once in turn, so each has its own delivery id.
-- Run with one wrk thread (-t1): every thread would replay the same sequence.
local requests = {}
local counter = 0
function init(args)
  local file = io.open(args[1], "r")
  for line in file:lines() do
    local sig, body = line:match("^([^\t]*)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", "/webhooks/stripe",
      {["Content-Type"] = "application/json", ["Stripe-Signature"] = sig}, body)
  end
  file:close()
end
function request()
  counter = counter + 1
  return requests[(counter - 1) % #requests + 1]
end
