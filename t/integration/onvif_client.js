#!/usr/bin/env node
// onvif_client.js - drive the gateway with npm `onvif` (agsh), the client most
// ONVIF tooling in Node uses, and print what it saw as one JSON line.
//
//   node onvif_client.js SCENARIO '{"hostname": ..., "port": ..., "username": ..., "password": ...}'
//
// Scenarios: connect, profiles, streams, snapshot, events, discover, export. The
// "events" scenario prints a line "SUBSCRIBED" once its pull point exists, so
// the test can make a change with another call, then the JSON result.
'use strict';

const { Discovery } = require('onvif');
const { done, fail, connect } = require('./onvif_common');

const scenario = process.argv[2];
const opts = JSON.parse(process.argv[3] || '{}');

function call(cam, method, ...args) {
	return new Promise((resolve) => {
		cam[method].call(cam, ...args, (err, data) => resolve(err ? { error: err.message } : { data }));
	});
}

function tokens(list) {
	return (list || []).map((p) => (p.$ ? p.$.token : p.token));
}

async function connectScenario() {
	const cam = await connect(opts);
	done({
		media2Support: cam.media2Support,
		services: Object.keys(cam.uri || {}).sort(),
		profiles: tokens(cam.profiles),
		videoSources: tokens(cam.videoSources),
		activeSource: cam.activeSource || null,
	});
}

async function profilesScenario() {
	const cam = await connect(opts);
	const media2 = await call(cam, 'getProfiles');
	const v2 = media2.error ? media2 : { tokens: tokens(media2.data), raw: media2.data };
	cam.media2Support = false;	// the same library call through Media v1
	const media1 = await call(cam, 'getProfiles');
	const v1 = media1.error ? media1 : { tokens: tokens(media1.data), raw: media1.data };
	const sources = await call(cam, 'getVideoSources');
	done({ media2: v2, media1: v1, videoSources: sources.error ? sources : tokens(sources.data) });
}

async function streamsScenario() {
	const cam = await connect(opts);
	const profile = opts.profileToken || cam.activeSource.profileToken;
	const out = { media2: {}, media1: {} };

	for (const protocol of ['RtspUnicast', 'RtspMulticast', 'RTSP', 'RtspOverHttp', 'RtspsUnicast']) {
		const r = await call(cam, 'getStreamUri', { protocol, profileToken: profile });
		out.media2[protocol] = r.error ? { error: r.error } : { uri: r.data.uri };
	}
	cam.media2Support = false;
	for (const [stream, protocol] of [['RTP-Unicast', 'UDP'], ['RTP-Unicast', 'TCP'], ['RTP-Unicast', 'RTSP'],
		['RTP-Unicast', 'HTTP'], ['RTP-Multicast', 'UDP']]) {
		const r = await call(cam, 'getStreamUri', { stream, protocol, profileToken: profile });
		out.media1[stream + '/' + protocol] = r.error ? { error: r.error } : { uri: r.data.uri };
	}
	done(out);
}

async function snapshotScenario() {
	const cam = await connect(opts);
	const profile = opts.profileToken || cam.activeSource.profileToken;
	const v2 = await call(cam, 'getSnapshotUri', { profileToken: profile });
	cam.media2Support = false;
	const v1 = await call(cam, 'getSnapshotUri', { profileToken: profile });
	done({ media2: v2.error ? v2 : v2.data.uri, media1: v1.error ? v1 : v1.data.uri });
}

async function eventsScenario() {
	const cam = await connect(opts);
	const sub = await call(cam, 'createPullPointSubscription');
	const seen = [];
	const deadline = Date.now() + (opts.waitMs || 20000);

	if (sub.error)
		return done({ error: sub.error });
	process.stdout.write('SUBSCRIBED ' + JSON.stringify(sub.data.subscriptionReference.address.href) + '\n');
	while (Date.now() < deadline) {
		const r = await call(cam, 'pullMessages', { messageLimit: 10 });
		if (r.error)
			return done({ error: r.error, seen });
		let msgs = r.data.notificationMessage || [];
		if (!Array.isArray(msgs))
			msgs = [msgs];
		for (const m of msgs) {
			const topic = m.topic && (m.topic._ || m.topic);
			const source = m.message && m.message.message && m.message.message.source;
			seen.push({ topic, source: source && source.simpleItem ? source.simpleItem : null });
		}
		if (seen.some((s) => String(s.topic).endsWith(opts.until || 'Media/ProfileChanged')))
			break;
		const renewed = await call(cam, 'renew', {});
		if (renewed.error)
			return done({ error: 'renew: ' + renewed.error, seen });
	}
	const unsub = await call(cam, 'unsubscribe');
	done({ seen, unsubscribed: !unsub.error });
}

// The library has no call of its own for Recording Control's export operations
// (its recording.js has GetRecordings and GetRecordingJobs only), so the export goes
// through its generic _request: the library's own transport, WS-Security and
// service address (from GetCapabilities' Extension/Recording).
function recordingRequest(cam, body) {
	return new Promise((resolve) => {
		cam._request({ service: 'recording', body: cam._envelopeHeader() + body + cam._envelopeFooter() },
			(err, data, xml) => resolve(err ? { error: err.message, xml } : { data, xml }));
	});
}

async function exportScenario() {
	const cam = await connect(opts);
	const trc = 'http://www.onvif.org/ver10/recording/wsdl';
	if (!cam.uri || !cam.uri.recording)
		return done({ error: 'no recording service in the capabilities', services: Object.keys(cam.uri || {}) });
	const sources = opts.sources.map((t) => '<IncludedSources xmlns="http://www.onvif.org/ver10/schema"><Token>' + t +
		'</Token></IncludedSources>').join('');
	const started = await recordingRequest(cam, '<ExportRecordedData xmlns="' + trc + '"><StartPoint>' + opts.from +
		'</StartPoint><EndPoint>' + opts.until + '</EndPoint><SearchScope>' + sources + '</SearchScope>' +
		'<FileFormat>ONVIF</FileFormat><StorageDestination><StorageToken xmlns="http://www.onvif.org/ver10/schema">' +
		'local</StorageToken><RelativePath xmlns="http://www.onvif.org/ver10/schema">case-77</RelativePath>' +
		'</StorageDestination></ExportRecordedData>');
	if (started.error)
		return done({ error: 'ExportRecordedData: ' + started.error });
	const token = /OperationToken>([^<]+)</.exec(started.xml)[1];
	const files = [...started.xml.matchAll(/FileNames>([^<]+)</g)].map((m) => m[1]);
	const polls = [];
	for (let i = 0; i < 120; i++) {
		const st = await recordingRequest(cam, '<GetExportRecordedDataState xmlns="' + trc + '"><OperationToken>' +
			token + '</OperationToken></GetExportRecordedDataState>');
		if (st.error)
			return done({ error: 'GetExportRecordedDataState: ' + st.error, token });
		const progress = parseFloat(/Progress>([^<]+)</.exec(st.xml)[1]);
		polls.push(progress);
		if (progress >= 1.0)
			break;
		await new Promise((r) => setTimeout(r, 250));
	}
	done({ token, files, polls, recordingUri: cam.uri.recording.href });
}

function discoverScenario() {
	Discovery.probe({ timeout: opts.timeout || 3000, resolve: false }, (err, found) => {
		const devices = (found || []).map((d) => {
			const m = d.probeMatches.probeMatch;
			return { address: m.endpointReference.address, xaddrs: m.XAddrs, scopes: String(m.scopes),
				types: String(m.types) };
		});
		done({ devices, errors: err ? String(err) : null });
	});
}

const scenarios = {
	connect: connectScenario, profiles: profilesScenario, streams: streamsScenario,
	snapshot: snapshotScenario, events: eventsScenario, discover: discoverScenario, export: exportScenario,
};

if (!scenarios[scenario]) {
	process.stderr.write('usage: onvif_client.js ' + Object.keys(scenarios).join('|') + ' JSON\n');
	process.exit(2);
}
Promise.resolve().then(scenarios[scenario]).catch(fail);
