#!/usr/bin/env node
// msl_pull.js - pull a camera over RTSP/TCP with Axis's media-stream-library
// (its Node command-line pipeline, CliMp4Pipeline) and let it write the
// fragmented MP4 it muxes to standard output:
//
//   node msl_pull.js rtsp://USER:PASSWORD@HOST:PORT/cameras/ID SECONDS > out.mp4
//
// After SECONDS it tears the session down and prints one JSON line on
// standard error: {"sdp": [encoding names], "played": bool, "errors": [...]}.
//
// The library takes no credentials from the URI: its Auth component answers
// Basic or Digest challenges with the `auth` option (root/pass when absent) and
// the request lines carry the URI as given. So the credentials are split off
// here, and the URI the gateway sees has none.
'use strict';

const util = require('util');

// The library logs with console.log too (socket errors...), and CliMp4Pipeline
// writes the MP4 to standard output: keep standard output for the MP4 alone.
const toStderr = (...args) => process.stderr.write(util.format(...args) + '\n');
console.log = console.info = console.warn = console.error = toStderr;

const { pipelines } = require('media-stream-library');

const [uriArg, secondsArg] = process.argv.slice(2);
if (!uriArg) {
	toStderr('usage: msl_pull.js rtsp://USER:PASSWORD@HOST:PORT/PATH [SECONDS] > out.mp4');
	process.exit(2);
}
const seconds = Number(secondsArg || 3);
const url = new URL(uriArg);
const auth = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
url.username = '';
url.password = '';

const result = { sdp: null, played: false, errors: [] };
function finish(code) {
	process.stderr.write(JSON.stringify(result) + '\n');
	// Let the TEARDOWN and the last MP4 fragment reach the socket and the file.
	setTimeout(() => process.exit(code), 300);
}

const p = new pipelines.CliMp4Pipeline({ rtsp: { uri: url.href }, auth });
// p.onSdp, not p.rtsp.onSdp: the pipeline's muxer hangs on the latter.
p.onSdp = (sdp) => { result.sdp = sdp.media.map((m) => m.rtpmap && m.rtpmap.encodingName); };
p.onPlay = () => { result.played = true; };
// A 4xx/5xx answer (a 401 that the Auth component could not get past included).
p.rtsp.onError = (err) => { result.errors.push(`RTSP ${err.code}: ${err.message.split('\r\n')[0]}`); };
process.on('uncaughtException', (err) => { result.errors.push(String(err && err.stack || err)); finish(1); });

p.rtsp.play();
setTimeout(() => {
	p.rtsp.stop();
	finish(0);
}, seconds * 1000);
