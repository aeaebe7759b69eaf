// onvif_common.js - what the npm `onvif` drivers of the tests share: one JSON
// line out, errors (also those the library throws from its callbacks) as
// {"error": ...}, and a Cam connected with the test's credentials.
'use strict';

const { Cam } = require('onvif');

function done(result) {
	process.stdout.write(JSON.stringify(result) + '\n');
	process.exit(0);
}

function fail(err) {
	done({ error: String(err && err.message ? err.message : err) });
}

// The library throws from inside its callbacks on unexpected answers: report, do not crash.
process.on('uncaughtException', fail);

// opts: {hostname, port, username, password, useWSSecurity (default true)}.
function connect(opts) {
	return new Promise((resolve, reject) => {
		const cam = new Cam({
			hostname: opts.hostname, port: opts.port, username: opts.username,
			password: opts.password, timeout: 20000, preserveAddress: true,
			useWSSecurity: opts.useWSSecurity !== false,
		}, (err) => (err ? reject(err) : resolve(cam)));
	});
}

module.exports = { done, fail, connect };
