#!/usr/bin/env node
// onvif_search.js - the Recording Search and Replay side of npm `onvif` (agsh
// 0.8.x) against the gateway, printed as one JSON line:
//
//   node onvif_search.js '{"hostname": ..., "port": ..., "username": ..., "password": ...,
//                          "recordingToken": "rec-3"}'
//
// It connects (GetServices, which keys the service addresses by namespace),
// asks GetCapabilities, GetReplayUri for each transport the library knows,
// GetRecordingSummary and GetRecordingInformation. The library's own
// getRecordingInformation reads the answer as if it were a summary (0.8.3
// looks for getRecordingSummaryResponse and throws); what it throws is
// reported, and the same request is then sent through the library's
// request path (_request: its envelope, authentication and parser) so the
// answer itself is checked too.
'use strict';

const { done, fail, connect } = require('./onvif_common');
const { linerase } = require('onvif/lib/utils');

const opts = JSON.parse(process.argv[2] || '{}');

// A library call; what it throws from inside its own callback is caught too.
function call(cam, method, ...args) {
	return new Promise((resolve) => {
		process.removeListener('uncaughtException', fail);
		const thrown = (e) => {
			process.on('uncaughtException', fail);
			resolve({ thrown: String(e && e.message ? e.message : e) });
		};
		process.once('uncaughtException', thrown);
		cam[method].call(cam, ...args, (err, data) => {
			process.removeListener('uncaughtException', thrown);
			process.on('uncaughtException', fail);
			resolve(err ? { error: err.message } : { data });
		});
	});
}

function request(cam, service, body) {
	return new Promise((resolve) => {
		cam._request({ service, body: cam._envelopeHeader() + body + cam._envelopeFooter() },
			(err, data) => resolve(err ? { error: err.message } : { data: linerase(data) }));
	});
}

async function main() {
	const cam = await connect(opts);
	const out = { services: Object.keys(cam.uri || {}).sort(), uri: {}, replay: {} };

	for (const name of ['search', 'replay'])
		out.uri[name] = cam.uri[name] ? cam.uri[name].href : null;
	const services = await call(cam, 'getServices', true);
	out.namespaces = services.error ? services : services.data.map((s) => s.namespace);
	const caps = await call(cam, 'getCapabilities');
	if (caps.error || caps.thrown) {
		out.capabilities = caps;
	} else {
		const ext = caps.data.extension || {};
		out.capabilities = { extension: Object.keys(ext).sort(),
			search: ext.search && ext.search.XAddr, replay: ext.replay && ext.replay.XAddr };
	}
	for (const [stream, protocol] of [['RTP-Unicast', 'RTSP'], ['RTP-Unicast', 'TCP'], ['RTP-Unicast', 'UDP'],
		['RTP-Unicast', 'HTTP'], ['RTP-Multicast', 'UDP']]) {
		const r = await call(cam, 'getReplayUri', { stream, protocol, recordingToken: opts.recordingToken });
		out.replay[stream + '/' + protocol] = r.data !== undefined ? { uri: r.data } : r;
	}
	const summary = await call(cam, 'getRecordingSummary');
	out.summary = summary.data !== undefined ? summary.data : summary;
	out.informationMethod = await call(cam, 'getRecordingInformation', { RecordingToken: opts.recordingToken });
	const info = await request(cam, 'search', '<GetRecordingInformation xmlns="http://www.onvif.org/ver10/search/wsdl">' +
		'<RecordingToken>' + opts.recordingToken + '</RecordingToken></GetRecordingInformation>');
	out.information = info.error ? info : info.data.getRecordingInformationResponse.recordingInformation;
	done(out);
}

main().catch(fail);
