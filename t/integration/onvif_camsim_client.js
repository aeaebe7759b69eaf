#!/usr/bin/env node
// onvif_camsim_client.js - drive the ONVIF camera simulator (onvif_camsim.py) with
// npm `onvif` (agsh), a client written by nobody here, and print what it saw as
// one JSON line.
//
//   node onvif_camsim_client.js SCENARIO '{"hostname": ..., "port": ..., "username": ..., "password": ...}'
//
// Scenarios:
//   connect     Cam connect, profiles, stream URIs (Media2 and Media v1), PTZ nodes,
//               configurations and configuration options, device information
//   absolute    absoluteMove to opts.{x,y,zoom}, getStatus until IDLE
//   preset      absoluteMove to opts.a, setPreset(opts.name), absoluteMove to opts.b,
//               gotoPreset, getStatus until IDLE, getPresets, removePreset
//   continuous  absoluteMove to opts.start, continuousMove(opts.velocity) until the pan
//               has moved by opts.distance, stop, getStatus every 50 ms for opts.holdMs
//   events      createPullPointSubscription, prints "SUBSCRIBED <address>", then
//               pullMessages (+ renew) until a message on opts.until arrives, unsubscribe
'use strict';

const { done, fail, connect } = require('./onvif_common');
const { linerase } = require('onvif/lib/utils');

const scenario = process.argv[2];
const opts = JSON.parse(process.argv[3] || '{}');

function call(cam, method, ...args) {
	return new Promise((resolve) => {
		cam[method].call(cam, ...args, (err, data, xml) => resolve(err ? { error: err.message, xml } : { data, xml }));
	});
}

async function must(cam, method, ...args) {
	const r = await call(cam, method, ...args);
	if (r.error)
		throw new Error(method + ': ' + r.error);
	return r.data;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function pos(status) {
	return { x: status.position.x, y: status.position.y, zoom: status.position.zoom, moveStatus: status.moveStatus };
}

async function waitIdle(cam, timeoutMs = 10000) {
	const deadline = Date.now() + timeoutMs;
	let polls = 0;
	for (;;) {
		const st = await must(cam, 'getStatus', {});
		polls++;
		const ms = st.moveStatus || {};
		if (ms.panTilt === 'IDLE' && ms.zoom === 'IDLE')
			return Object.assign(pos(st), { polls });
		if (Date.now() > deadline)
			throw new Error('still moving after ' + timeoutMs + ' ms: ' + JSON.stringify(pos(st)));
		await sleep(50);
	}
}

async function connectScenario() {
	const cam = await connect(opts);
	const out = {
		media2Support: cam.media2Support,
		services: Object.keys(cam.uri || {}).sort(),
		profiles: (cam.profiles || []).map((p) => ({ token: p.$.token, name: p.name, ptz: !!p.PTZConfiguration })),
		activeSource: cam.activeSource || null,
	};
	out.streamUri2 = (await must(cam, 'getStreamUri', { protocol: 'RTSP' })).uri;
	cam.media2Support = false;		// the same call through Media v1
	out.streamUri1 = (await must(cam, 'getStreamUri', { protocol: 'RTSP' })).uri;
	cam.media2Support = true;
	const nodes = await must(cam, 'getNodes');
	out.nodes = Object.keys(nodes);
	out.maxPresets = Object.values(nodes)[0].maximumNumberOfPresets;
	out.homeSupported = Object.values(nodes)[0].homeSupported;
	const confs = await must(cam, 'getConfigurations');
	out.configurations = Object.values(confs).map((c) => ({ token: c.token, nodeToken: c.nodeToken,
		timeout: c.defaultPTZTimeout, panTiltLimits: c.panTiltLimits, zoomLimits: c.zoomLimits }));
	const options = await must(cam, 'getConfigurationOptions', out.configurations[0].token);
	out.options = { ptzTimeout: options.ptzTimeout, absolute: options.spaces.absolute,
		continuous: options.spaces.continuous };
	out.deviceInformation = await must(cam, 'getDeviceInformation');
	done(out);
}

async function absoluteScenario() {
	const cam = await connect(opts);
	await must(cam, 'absoluteMove', { x: opts.x, y: opts.y, zoom: opts.zoom });
	const first = pos(await must(cam, 'getStatus', {}));
	done({ first, status: await waitIdle(cam) });
}

async function presetScenario() {
	const cam = await connect(opts);
	await must(cam, 'absoluteMove', opts.a);
	const atA = await waitIdle(cam);
	const set = await call(cam, 'setPreset', { presetName: opts.name });
	if (set.error)
		throw new Error('setPreset: ' + set.error);
	const token = linerase(set.data).setPresetResponse.presetToken;
	await must(cam, 'absoluteMove', opts.b);
	const atB = await waitIdle(cam);
	const presets = await must(cam, 'getPresets', {});
	await must(cam, 'gotoPreset', { preset: token });
	const recalled = await waitIdle(cam);
	const removed = await call(cam, 'removePreset', { presetToken: token });
	const after = await must(cam, 'getPresets', {});
	const listed = presets[opts.name] || null;
	done({
		token, atA, atB, recalled, removed: !removed.error,
		listed: listed && { token: listed.$.token, position: listed.PTZPosition },
		namesAfter: Object.keys(after),
	});
}

async function continuousScenario() {
	const cam = await connect(opts);
	await must(cam, 'absoluteMove', opts.start);
	const start = await waitIdle(cam);
	const t0 = Date.now();
	await must(cam, 'continuousMove', opts.velocity);
	const during = [];
	for (;;) {
		const st = pos(await must(cam, 'getStatus', {}));
		during.push(st);
		if (Math.abs(st.x - start.x) >= opts.distance || Date.now() - t0 > 10000)
			break;
		await sleep(50);
	}
	await must(cam, 'stop', {});
	const afterStop = [];
	const t1 = Date.now();
	while (Date.now() - t1 < (opts.holdMs || 600)) {
		afterStop.push(pos(await must(cam, 'getStatus', {})));
		await sleep(50);
	}
	done({ start, during, afterStop, movedForMs: t1 - t0 });
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
			const msg = m.message && m.message.message;
			const items = (list) => Object.fromEntries([].concat((list && list.simpleItem) || [])
				.map((i) => [i.$.Name, i.$.Value]));
			seen.push({
				topic: m.topic && (m.topic._ || m.topic),
				utcTime: msg && msg.$ && msg.$.UtcTime,
				operation: msg && msg.$ && msg.$.PropertyOperation,
				source: msg ? items(msg.source) : null,
				data: msg ? items(msg.data) : null,
			});
		}
		if (seen.some((s) => s.topic === opts.until && s.operation !== 'Initialized'))
			break;
		const renewed = await call(cam, 'renew', {});
		if (renewed.error)
			return done({ error: 'renew: ' + renewed.error, seen });
	}
	const unsub = await call(cam, 'unsubscribe');
	done({ seen, unsubscribed: !unsub.error });
}

const scenarios = {
	connect: connectScenario, absolute: absoluteScenario, preset: presetScenario,
	continuous: continuousScenario, events: eventsScenario,
};

if (!scenarios[scenario]) {
	process.stderr.write('usage: onvif_camsim_client.js ' + Object.keys(scenarios).join('|') + ' JSON\n');
	process.exit(2);
}
Promise.resolve().then(scenarios[scenario]).catch(fail);
