-- onvif-getprofiles.lua - wrk script: Media2 GetProfiles with a fresh
-- WS-UsernameToken on every request (a nonce may be used once), over
-- keep-alive connections.
--
--   ONVIF_USER=u ONVIF_PASSWORD=p wrk -t1 -c8 -d10s -s onvif-getprofiles.lua \
--       http://127.0.0.1:8080/onvif/media2_service
--
-- wrk's LuaJIT has no SHA-1: a small one is below (the digest is
-- Base64(SHA-1(nonce || Created || password))). Non-200 answers are counted
-- and printed at the end, so a run that is refused does not pass for fast.
local bit = require("bit")
local band, bor, bxor, bnot, rol, tobit = bit.band, bit.bor, bit.bxor, bit.bnot, bit.rol, bit.tobit

local user = os.getenv("ONVIF_USER") or "user"
local password = os.getenv("ONVIF_PASSWORD") or "password"
local counter = 0
local thread_id = 0

local function be32(s, i)
	local a, b, c, d = s:byte(i, i + 3)
	return tobit(a * 16777216 + b * 65536 + c * 256 + d)
end

local function sha1(msg)
	local h0, h1, h2, h3, h4 = tobit(0x67452301), tobit(0xEFCDAB89), tobit(0x98BADCFE), tobit(0x10325476),
	    tobit(0xC3D2E1F0)
	local ml = #msg * 8
	msg = msg .. "\128" .. string.rep("\0", (55 - #msg) % 64) ..
	    string.char(0, 0, 0, 0, math.floor(ml / 16777216) % 256, math.floor(ml / 65536) % 256,
	    math.floor(ml / 256) % 256, ml % 256)
	local w = {}
	for chunk = 1, #msg, 64 do
		for i = 0, 15 do
			w[i] = be32(msg, chunk + i * 4)
		end
		for i = 16, 79 do
			w[i] = rol(bxor(w[i - 3], w[i - 8], w[i - 14], w[i - 16]), 1)
		end
		local a, b, c, d, e = h0, h1, h2, h3, h4
		for i = 0, 79 do
			local f, k
			if i < 20 then
				f, k = bor(band(b, c), band(bnot(b), d)), 0x5A827999
			elseif i < 40 then
				f, k = bxor(b, c, d), 0x6ED9EBA1
			elseif i < 60 then
				f, k = bor(band(b, c), band(b, d), band(c, d)), 0x8F1BBCDC
			else
				f, k = bxor(b, c, d), 0xCA62C1D6
			end
			local t = tobit(rol(a, 5) + f + e + k + w[i])
			e, d, c, b, a = d, c, rol(b, 30), a, t
		end
		h0, h1, h2, h3, h4 = tobit(h0 + a), tobit(h1 + b), tobit(h2 + c), tobit(h3 + d), tobit(h4 + e)
	end
	local out = {}
	for _, v in ipairs({ h0, h1, h2, h3, h4 }) do
		out[#out + 1] = string.char(band(bit.rshift(v, 24), 255), band(bit.rshift(v, 16), 255),
		    band(bit.rshift(v, 8), 255), band(v, 255))
	end
	return table.concat(out)
end

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
	local out = {}
	for i = 1, #s, 3 do
		local a, b, c = s:byte(i, i + 2)
		local n = a * 65536 + (b or 0) * 256 + (c or 0)
		local q = {}
		for j = 3, 0, -1 do
			local idx = band(bit.rshift(n, j * 6), 63) + 1
			q[#q + 1] = b64chars:sub(idx, idx)
		end
		if not b then q[3] = "=" end
		if not c then q[4] = "=" end
		out[#out + 1] = table.concat(q)
	end
	return table.concat(out)
end

-- Unique per thread and request: thread id, counter and random bytes.
local function nonce()
	counter = counter + 1
	local t = {}
	for i = 1, 8 do
		t[i] = string.char(math.random(0, 255))
	end
	return string.char(thread_id) .. string.format("%07d", counter % 10000000) .. table.concat(t)
end

local function envelope()
	local n = nonce()
	local created = os.date("!%Y-%m-%dT%H:%M:%SZ")
	local digest = base64(sha1(n .. created .. password))
	return '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>' ..
	    '<Security s:mustUnderstand="1" xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">' ..
	    '<UsernameToken><Username>' .. user .. '</Username>' ..
	    '<Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">' ..
	    digest .. '</Password><Nonce>' .. base64(n) .. '</Nonce>' ..
	    '<Created xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">' ..
	    created .. '</Created></UsernameToken></Security></s:Header><s:Body>' ..
	    '<GetProfiles xmlns="http://www.onvif.org/ver20/media/wsdl"><Type>All</Type></GetProfiles></s:Body></s:Envelope>'
end

local threads = {}
local next_id = 1

function setup(thread)
	thread:set("thread_id", next_id)
	next_id = next_id + 1
	table.insert(threads, thread)
end

function init(args)
	math.randomseed(os.time() + thread_id * 7919)
	bad = 0
end

function request()
	return wrk.format("POST", nil, { ["Content-Type"] = "application/soap+xml; charset=utf-8" }, envelope())
end

function response(status, headers, body)
	if status ~= 200 then
		bad = bad + 1
	end
end

function done(summary, latency, requests)
	local n = 0
	for _, t in ipairs(threads) do
		n = n + t:get("bad")
	end
	io.write(string.format("non-200 answers: %d\n", n))
end
