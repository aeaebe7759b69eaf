#!/usr/bin/env node
// web_driver.js - drive the admin page (/admin/) in headless Chromium (Debian's,
// through puppeteer-core) the way an operator would, one step at a time, for
// test_web.py and contrib/bench/web-bench.sh:
//
//   node web_driver.js GATEWAY_URL SHOT_DIR
//
// Steps arrive on standard input, one JSON object per line ({"do": "login",
// ...}); each answers with one JSON line on standard output ({"ok": true, ...}
// or {"ok": false, "error": ...}). Between steps the caller does what is not
// the browser's business (ffprobe, an ffmpeg reader), so one browser session
// goes through the whole story.
//
// Every request the page makes is intercepted: one to any origin but the
// gateway's is aborted and reported in "foreign" (the page must work on an
// air-gapped network), and so is a WebSocket to another host. Only data: and
// blob: URLs, which name no host, pass besides.
'use strict';

const puppeteer = require('puppeteer-core');
const readline = require('readline');
const path = require('path');

const base = process.argv[2].replace(/\/$/, '');
const shotDir = process.argv[3];
const origin = new URL(base).origin;
const wsOrigin = origin.replace(/^http/, 'ws');
const executablePath = process.env.CHROMIUM || '/usr/lib/chromium/chromium';

const foreign = [];
const consoleLines = [];
let browser, page;
let intercept = true;		// launch {"intercept": false}: watch requests without holding them

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, arg, timeout = 15000, what = 'condition') {
	const deadline = Date.now() + timeout;
	for (;;) {
		const v = await page.evaluate(fn, arg);
		if (v)
			return v;
		if (Date.now() > deadline)
			throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
		await sleep(50);
	}
}

async function shot(name) {
	const file = path.join(shotDir, `${name}.png`);
	await page.screenshot({ path: file });
	return file;
}

// A page with the interception and the WebSocket watch; |context| gives it an empty cache.
async function openPage(context) {
	page = await context.newPage();
	page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
	page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
	// Not a host: data: and blob: (Chromium's own icons of <input type=datetime-local>,
	// the live view's MediaSource); anything else must be the gateway.
	const local = (url) => url.startsWith(origin + '/') || url.startsWith('data:') || url.startsWith('blob:');
	const cdp = await page.createCDPSession();
	await cdp.send('Network.enable');
	cdp.on('Network.webSocketCreated', (e) => {
		if (!e.url.startsWith(wsOrigin + '/'))
			foreign.push(e.url);
	});
	if (!intercept) {
		// Benchmarks: watch without stopping each request (interception costs a round
		// trip to this process per request, which would be counted as the page's time).
		cdp.on('Network.requestWillBeSent', (e) => { if (!local(e.request.url)) foreign.push(e.request.url); });
		return;
	}
	await page.setRequestInterception(true);
	page.on('request', (req) => {
		const url = req.url();
		if (local(url)) {
			req.continue();
		} else {
			foreign.push(url);
			req.abort('blockedbyclient');
		}
	});
}

async function launch(opts) {
	intercept = opts.intercept !== false;
	browser = await puppeteer.launch({
		executablePath, headless: true,
		args: [
			...(process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : []),
			'--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
			'--disable-component-update', '--no-first-run', '--mute-audio',
			'--autoplay-policy=no-user-gesture-required',
		],
		defaultViewport: { width: opts.width || 1280, height: opts.height || 800 },
	});
	await openPage(browser);
	return {};
}

// --- steps ------------------------------------------------------------------------------

async function load(opts) {
	if (opts.fresh) {		// a cold cache: a new browser context
		const old = page.browserContext();
		await page.close();
		await openPage(await browser.createBrowserContext());
		if (old !== browser.defaultBrowserContext())
			await old.close();
	}
	const t0 = Date.now();
	await page.goto(base + '/admin/' + (opts.hash || ''), { waitUntil: 'load' });
	return page.evaluate((wall) => {
		const nav = performance.getEntriesByType('navigation')[0];
		const res = performance.getEntriesByType('resource');
		const all = [nav, ...res];
		return {
			wall_ms: wall,
			load_ms: nav.loadEventEnd - nav.startTime,
			dom_ms: nav.domContentLoadedEventEnd - nav.startTime,
			transfer_bytes: all.reduce((s, e) => s + (e.transferSize || 0), 0),
			encoded_bytes: all.reduce((s, e) => s + (e.encodedBodySize || 0), 0),
			decoded_bytes: all.reduce((s, e) => s + (e.decodedBodySize || 0), 0),
			files: all.map((e) => e.name.replace(location.origin, '')),
			timeline: all.map((e) => [e.name.replace(location.origin, ''), Math.round(e.startTime), Math.round(e.responseEnd)]),
		};
	}, Date.now() - t0);
}

async function login(opts) {
	await page.waitForSelector('#login-form input[name=username]', { visible: true });
	await page.type('#login-form input[name=username]', opts.username);
	await page.type('#login-form input[name=password]', opts.password);
	await page.keyboard.press('Enter');
	await waitFor(() => document.body.dataset.ready === 'true', null, 20000, 'the page to load its data');
	return { view: await page.evaluate(() => document.body.dataset.view) };
}

// Where each camera is drawn, in page coordinates, with what the page knows of it.
async function markers() {
	return page.evaluate(() => {
		const m = window.vssgate.map, r = m.canvas.getBoundingClientRect();
		return m.cameras.map((c) => {
			const p = m.project(c.lat, c.lon);
			return { id: c.id, name: c.name, cls: c.cls, x: r.left + p.x, y: r.top + p.y,
				inside: p.x >= 0 && p.y >= 0 && p.x < m.width && p.y < m.height };
		});
	});
}

async function mapState(opts) {
	await page.evaluate(() => { location.hash = '#map'; });
	await waitFor(() => !document.getElementById('view-map').hidden, null, 5000, 'the map');
	if (opts.status)
		await waitFor((want) => window.vssgate.map.cameras.some((c) => c.cls === want), opts.status,
			opts.timeout || 20000, `a camera ${opts.status} on the map`);
	await sleep(100);		// the next animation frame has drawn
	const list = await page.evaluate(() => [...document.querySelectorAll('#map-list li')].map((li) => ({
		id: Number(li.dataset.cameraId), text: li.textContent, status: li.dataset.status })));
	return { markers: await markers(), list, timings: await page.evaluate(() => window.vssgate.timings),
		shot: await shot(opts.shot || 'map') };
}

// Draw a circle on the map with the mouse: from |center| (page px), |radius| px.
async function drawCircle(opts) {
	await page.click('.map-tools [data-tool=circle]');
	await page.mouse.move(opts.x, opts.y);
	await page.mouse.down();
	for (let i = 1; i <= 5; i++)
		await page.mouse.move(opts.x + opts.radius * i / 5, opts.y, { steps: 2 });
	await page.mouse.up();
	const count = await waitFor(() => {
		const c = document.getElementById('grant-covers').dataset.count;
		return c !== undefined && c !== '0' ? Number(c) : 0;
	}, null, 10000, 'the preview of the covered cameras');
	const covered = await page.evaluate(() => [...document.querySelectorAll('#grant-covers li')].map((li) =>
		Number(li.dataset.cameraId)));
	return { count, covered, area: await page.evaluate(() => window.vssgate.map.area), shot: await shot('grant-area') };
}

async function grant(opts) {
	await page.select('#grant-authority', String(opts.authority_id));
	await page.type('#grant-form input[name=reason]', opts.reason);
	await page.click('#grant-submit');
	await page.waitForSelector('#credentials-dialog[open]', { timeout: 15000 });
	const creds = await page.evaluate(() => [...document.querySelectorAll('#credentials-body .secret')].map((d) => ({
		label: d.querySelector('span').textContent, value: d.querySelector('code').textContent })));
	const file = await shot('grant-credentials');
	await page.click('#credentials-close');
	const gone = await page.evaluate(() => document.getElementById('credentials-body').textContent === '');
	return { creds, shot: file, cleared: gone };
}

async function grants(opts) {
	await page.evaluate(() => { location.hash = '#grants'; });
	const sel = `#grants-table tr[data-grant-id="${opts.grant_id}"]`;
	await page.waitForSelector(sel, { timeout: 10000 });
	const read = () => page.$eval(`${sel} td.countdown`, (td) => ({ text: td.textContent,
		left: Number(td.dataset.remainingS), at: Date.now() }));
	await sleep(1100);		// past the first tick
	const first = await read();
	await sleep(opts.wait_ms || 2200);
	const second = await read();
	return { first, second, state: await page.$eval(sel, (tr) => tr.dataset.state), shot: await shot('grants') };
}

async function revoke(opts) {
	const sel = `#grants-table tr[data-grant-id="${opts.grant_id}"]`;
	await page.click(`${sel} button.danger`);
	await page.waitForSelector('#prompt-dialog[open]');
	await page.type('#prompt-form input[name=value]', opts.reason);
	await page.keyboard.press('Enter');
	await waitFor((s) => { const tr = document.querySelector(s); return tr && tr.dataset.state === 'revoked'; },
		sel, 10000, 'the grant shown revoked');
	return { classes: await page.$eval(sel, (tr) => tr.className), shot: await shot('grants-revoked') };
}

async function live(opts) {
	await page.evaluate(() => { location.hash = '#cameras'; });
	const sel = `#cameras-table tr[data-camera-id="${opts.camera_id}"]`;
	await page.waitForSelector(sel);
	await shot('cameras');
	await page.$$eval(`${sel} button`, (bs) => bs.find((b) => b.textContent === 'Live').click());
	const deadline = Date.now() + (opts.timeout || 20000);
	let r;
	for (;;) {
		r = await page.evaluate(() => {
			const v = document.getElementById('live-video');
			const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
			const out = { width: v.videoWidth, height: v.videoHeight, currentTime: v.currentTime,
				frames: q.totalVideoFrames || 0, status: document.getElementById('live-status').textContent, bars: null };
			if (v.videoWidth > 0 && v.readyState >= 2) {
				const c = document.createElement('canvas');
				c.width = v.videoWidth;
				c.height = v.videoHeight;
				const ctx = c.getContext('2d', { willReadFrequently: true });
				ctx.drawImage(v, 0, 0);
				out.bars = [];
				for (let i = 0; i < 7; i++) {
					const d = ctx.getImageData(Math.floor((i + 0.5) * c.width / 7), Math.floor(c.height / 3), 1, 1).data;
					out.bars.push([d[0], d[1], d[2]]);
				}
			}
			return out;
		});
		if ((r.currentTime >= opts.seconds && r.frames >= opts.frames && r.bars) || Date.now() > deadline)
			break;
		await sleep(100);
	}
	r.shot = await shot('live');
	await page.click('#live-close');
	await sleep(300);
	return r;
}

async function audit(opts) {
	await page.evaluate(() => { location.hash = '#audit'; });
	await page.waitForSelector('#audit-form');
	await page.$eval('#audit-form input[name=action]', (i, v) => { i.value = v; }, opts.action || '');
	await page.click('#audit-form button[type=submit]');
	await sleep(300);
	await page.click('#audit-verify');
	await waitFor(() => document.getElementById('audit-verify-result').dataset.ok !== undefined, null, 10000, 'verification');
	return page.evaluate(() => ({
		rows: [...document.querySelectorAll('#audit-table tbody tr')].map((tr) => ({
			id: Number(tr.dataset.auditId), action: tr.dataset.action, grant: tr.children[6].textContent,
			detail: tr.children[8].textContent })),
		verify: document.getElementById('audit-verify-result').textContent,
		verify_ok: document.getElementById('audit-verify-result').dataset.ok,
		first_bad_id: document.getElementById('audit-verify-result').dataset.firstBadId,
		marked: [...document.querySelectorAll('#audit-table tr.broken')].map((tr) => tr.dataset.auditId),
	})).then(async (r) => Object.assign(r, { shot: await shot('audit') }));
}

async function sessions() {
	await page.evaluate(() => { location.hash = '#sessions'; });
	await sleep(500);
	return { rows: await page.$$eval('#sessions-table tbody tr', (trs) => trs.length), shot: await shot('sessions') };
}

// Drag the map with the mouse over |n| frames: how long each frame's drawing took
// while dragging, and the full drawing after the release.
async function pan(opts) {
	await page.evaluate(() => { location.hash = '#map'; });
	await page.click('.map-tools [data-tool=pan]');
	const r = await page.$eval('#map', (c) => { const b = c.getBoundingClientRect(); return { x: b.x + b.width / 2, y: b.y + b.height / 2 }; });
	const frame = () => page.evaluate(() => new Promise((res) => requestAnimationFrame(() =>
		requestAnimationFrame(() => res(window.vssgate.map.lastRenderMs)))));
	const times = [];
	await page.mouse.move(r.x, r.y);
	await page.mouse.down();
	for (let i = 1; i <= (opts.n || 20); i++) {
		await page.mouse.move(r.x + i * 12, r.y + i * 4);
		times.push(await frame());
	}
	await page.mouse.up();
	const full = await frame();
	const m = await page.evaluate(() => ({ cameras: window.vssgate.map.cameras.length, parts: window.vssgate.map.partMs,
		full: window.vssgate.map.fullRenderMs }));
	return { times, max_ms: Math.max(...times), release_ms: m.full, cameras: m.cameras, parts: m.parts };
}

// The grant panel with the keyboard only: fields reached by focus, typed, Enter to grant.
async function keyboardGrant(opts) {
	await page.evaluate(() => { location.hash = '#map'; });
	await page.focus('#grant-authority');
	for (let i = 0; i < opts.authority_index; i++)
		await page.keyboard.press('ArrowDown');
	for (const [name, value] of [['lat', opts.lat], ['lon', opts.lon], ['radius', opts.radius]]) {
		await page.focus(`#grant-form input[name=${name}]`);
		await page.keyboard.type(String(value));
	}
	await waitFor(() => Number(document.getElementById('grant-covers').dataset.count || 0) > 0, null, 10000,
		'the preview');
	await page.focus('#grant-form input[name=reason]');
	await page.keyboard.type(opts.reason);
	await page.keyboard.press('Enter');
	await page.waitForSelector('#credentials-dialog[open]', { timeout: 15000 });
	const user = await page.$eval('#credentials-body .secret code', (c) => c.textContent);
	const file = await shot('grant-keyboard');
	await page.focus('#credentials-close');
	await page.keyboard.press('Enter');
	await waitFor(() => !document.getElementById('credentials-dialog').open, null, 5000, 'the dialog closed');
	return { user, shot: file };
}

// Add a camera with the form of the cameras page.
async function cameraAdd(opts) {
	await page.evaluate(() => { location.hash = '#cameras'; });
	await page.click('#camera-add');
	await page.waitForSelector('#camera-dialog[open]');
	for (const [k, v] of Object.entries(opts.fields))
		await page.type(`#camera-form input[name=${k}]`, String(v));
	for (const k of opts.checks || [])
		await page.click(`#camera-form input[name=${k}]`);
	const file = await shot('camera-form');
	await page.keyboard.press('Enter');
	await waitFor((name) => [...document.querySelectorAll('#cameras-table td')].some((td) => td.textContent === name),
		opts.fields.name, 10000, 'the new camera in the table');
	return { shot: file, open: await page.evaluate(() => document.getElementById('camera-dialog').open) };
}

async function csv(opts) {
	await page.evaluate(() => { location.hash = '#cameras'; });
	await page.click('#csv-export');
	await waitFor(() => document.getElementById('csv-result').textContent.startsWith('Exported'), null, 10000, 'the export');
	const exported = await page.$eval('#csv-result', (e) => e.textContent);
	const input = await page.$('#csv-import');
	await input.uploadFile(opts.file);
	await waitFor(() => document.getElementById('csv-result').textContent.startsWith('Imported') ||
		!document.getElementById('error').hidden, null, 10000, 'the import');
	return { exported, imported: await page.$eval('#csv-result', (e) => e.textContent),
		error: await page.evaluate(() => document.getElementById('error').hidden ? null : document.getElementById('error').textContent) };
}

async function endSession(opts) {
	await page.evaluate(() => { location.hash = '#sessions'; });
	const sel = `#sessions-table tr[data-session-id="${opts.session_id}"]`;
	await page.waitForSelector(sel, { timeout: 10000 });
	await page.click(`${sel} button.danger`);
	await page.waitForSelector('#prompt-dialog[open]');
	await page.type('#prompt-form input[name=value]', opts.reason);
	await page.keyboard.press('Enter');
	await waitFor((s) => !document.querySelector(s), sel, 10000, 'the session gone from the live list');
	return { shot: await shot('sessions-ended') };
}

// Does any page need a horizontal scroll bar at this size?
async function fits() {
	const out = {};
	for (const view of ['map', 'grants', 'sessions', 'audit', 'cameras']) {
		await page.evaluate((v) => { location.hash = '#' + v; }, view);
		await sleep(300);
		out[view] = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth,
			map: document.getElementById('map').getBoundingClientRect().width }));
		await shot(`fit-${view}`);
	}
	return { views: out };
}

const STEPS = { launch, load, login, map: mapState, drawCircle, grant, grants, revoke, live, audit, sessions, pan,
	keyboardGrant, cameraAdd, csv, endSession, fits,
	shot: async (o) => ({ shot: await shot(o.name) }) };

async function main() {
	const rl = readline.createInterface({ input: process.stdin });
	for await (const line of rl) {
		if (!line.trim())
			continue;
		const step = JSON.parse(line);
		let out;
		try {
			out = Object.assign({ ok: true }, await STEPS[step.do](step));
		} catch (err) {
			out = { ok: false, error: String(err && err.stack || err) };
			if (page)
				await shot(`error-${step.do}`).catch(() => {});
		}
		out.foreign = foreign.slice();
		out.console = consoleLines.splice(0);
		process.stdout.write(JSON.stringify(out) + '\n');
		if (step.do === 'quit')
			break;
	}
	if (browser)
		await browser.close();
}

STEPS.quit = async () => ({});
main().then(() => process.exit(0), (err) => { process.stdout.write(JSON.stringify({ ok: false, error: String(err) }) + '\n'); process.exit(1); });
