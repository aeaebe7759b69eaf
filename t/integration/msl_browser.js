#!/usr/bin/env node
// msl_browser.js - open msl_page.html in headless Chromium (Debian's, driven by
// puppeteer-core), let Axis's media-stream-library play the camera into a
// <video>, and print what the browser saw as one JSON line on standard output:
//
//   node msl_browser.js PAGE_URL '{"seconds": 1.5, "frames": 30, "timeout": 20}'
//
// It waits until the video has played `seconds` (currentTime) and decoded
// `frames` frames (getVideoPlaybackQuality), until the page reports an error,
// or until `timeout` seconds have passed, then reports in any case: the test
// decides. The result has the <video>'s size, currentTime, decoded and dropped
// frame counts, the colours of the test pattern's bars in the last frame
// (a canvas draws the video, so they are the decoder's pixels), the page's
// own report (window.msl) and the browser console.
//
// CHROMIUM overrides the browser binary (default /usr/lib/chromium/chromium:
// the /usr/bin/chromium wrapper script only adds noise).
'use strict';

const puppeteer = require('puppeteer-core');

const pageUrl = process.argv[2];
const opts = Object.assign({ seconds: 1.5, frames: 30, timeout: 20 }, JSON.parse(process.argv[3] || '{}'));
const executablePath = process.env.CHROMIUM || '/usr/lib/chromium/chromium';

const result = { ok: false, reason: null, console: [] };
const started = Date.now();

function done(code) {
	result.elapsed = (Date.now() - started) / 1000;
	process.stdout.write(JSON.stringify(result) + '\n');
	process.exit(code);
}

// Whatever happens (a crashed browser, puppeteer throwing), still print a result.
process.on('uncaughtException', (err) => { result.reason = 'exception: ' + (err && err.stack || err); done(1); });
process.on('unhandledRejection', (err) => { result.reason = 'rejection: ' + (err && err.stack || err); done(1); });

// Runs in the page: the <video>'s state, and the bars of the SMPTE pattern
// sampled from the frame on screen (seven bars across the top two thirds).
function probe() {
	const v = document.getElementById('video');
	const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
	const out = {
		msl: window.msl, width: v.videoWidth, height: v.videoHeight, currentTime: v.currentTime,
		readyState: v.readyState, paused: v.paused, frames: q.totalVideoFrames || 0,
		dropped: q.droppedVideoFrames || 0, bars: null,
	};
	if (v.videoWidth > 0 && v.readyState >= 2) {
		const c = document.createElement('canvas');
		c.width = v.videoWidth;
		c.height = v.videoHeight;
		const ctx = c.getContext('2d', { willReadFrequently: true });
		ctx.drawImage(v, 0, 0);
		out.bars = [];
		for (let i = 0; i < 7; i++) {
			const x = Math.floor((i + 0.5) * c.width / 7), y = Math.floor(c.height / 3);
			const d = ctx.getImageData(x - 2, y - 2, 5, 5).data;
			const rgb = [0, 0, 0];
			for (let p = 0; p < d.length; p += 4)
				for (let k = 0; k < 3; k++)
					rgb[k] += d[p + k] / (d.length / 4);
			out.bars.push(rgb.map(Math.round));
		}
	}
	return out;
}

async function main() {
	const browser = await puppeteer.launch({
		executablePath,
		headless: true,
		// Root cannot use Chromium's sandbox; everything else keeps the headless
		// browser quiet and lets a muted <video> start without a user gesture.
		args: [
			...(process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : []),
			'--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
			'--disable-component-update', '--no-first-run', '--mute-audio',
			'--autoplay-policy=no-user-gesture-required',
		],
		protocolTimeout: opts.timeout * 1000,
	});
	try {
		const page = await browser.newPage();
		page.on('console', (m) => result.console.push(`${m.type()}: ${m.text()}`));
		page.on('pageerror', (e) => result.console.push(`pageerror: ${e.message}`));
		await page.goto(pageUrl, { waitUntil: 'load', timeout: opts.timeout * 1000 });
		const deadline = started + opts.timeout * 1000;
		for (;;) {
			Object.assign(result, await page.evaluate(probe));
			if (result.msl && result.msl.errors.length) {
				result.reason = 'the page reported an error';
				break;
			}
			if (result.currentTime >= opts.seconds && result.frames >= opts.frames && result.bars) {
				result.ok = true;
				break;
			}
			if (Date.now() > deadline) {
				result.reason = `timed out after ${opts.timeout} s`;
				break;
			}
			await new Promise((r) => setTimeout(r, 100));
		}
		// Leave as a player does: TEARDOWN, then the WebSocket closes.
		await page.evaluate(() => window.pipeline && window.pipeline.close());
		await new Promise((r) => setTimeout(r, 200));
	} finally {
		await browser.close();
	}
}

main().then(() => done(0));
