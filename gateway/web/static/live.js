// live.js - the live view of a camera for the admin: RTSP over WebSocket into
// a <video>, with Axis's media-stream-library (vendor/, MIT; loaded the
// first time a view opens, so the page's first load does not carry it).
//
// The view runs under a short grant of its own (POST cameras/{id}/live-view):
// the player logs in with its credentials like any authority's player, the
// session is checked, listed and audited like any other, and closing the
// view revokes the grant. While the view is open the grant is extended.
'use strict';

import * as api from './api.js';
import { attempt, showError } from './views.js';

const PLAYER = 'vendor/media-stream-library.min.js';
let playerLoaded = null;

function loadPlayer() {
	if (!playerLoaded)
		playerLoaded = new Promise((resolve, reject) => {
			const s = document.createElement('script');
			s.src = PLAYER;
			s.onload = () => resolve(window.mediaStreamLibrary);
			s.onerror = () => { playerLoaded = null; reject(new Error('the player is not installed on this gateway')); };
			document.head.append(s);
		});
	return playerLoaded;
}

export class LiveView {
	constructor(app) {
		this.app = app;
		this.dialog = document.getElementById('live-dialog');
		this.video = document.getElementById('live-video');
		this.status = document.getElementById('live-status');
		document.getElementById('live-close').addEventListener('click', () => this.dialog.close());
		this.dialog.addEventListener('close', () => this.stop('live view closed'));
		// A tab closed with a view open: revoke its grant on the way out.
		window.addEventListener('pagehide', () => this.stop('the admin page was closed', true));
	}

	say(text) {
		this.status.textContent = text;
		this.status.dataset.state = text;
	}

	async open(cam) {
		await this.stop('another live view opened');
		document.getElementById('live-title').textContent = `Live: ${cam.name}`;
		this.say('starting…');
		this.dialog.showModal();
		let lib;
		try {
			lib = await loadPlayer();
		} catch (err) {
			this.say(err.message);
			return showError(err, 'Live view');
		}
		const view = await attempt('Live view', () => api.post(`cameras/${cam.id}/live-view`));
		if (!view || !this.dialog.open) {
			if (view)
				this.revoke(view.grant.id, 'live view closed');
			return this.say(view ? 'closed' : 'refused');
		}
		this.grantId = view.grant.id;
		this.renewAt(view.active_until);
		const ws = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${view.websocket_path}`;
		const pipeline = this.pipeline = new lib.pipelines.Html5VideoPipeline({
			ws: { uri: ws, timeout: 10000 },
			rtsp: { uri: `rtsp://${location.host}${view.rtsp_path}` },
			auth: { username: view.username, password: view.password },
			mediaElement: this.video,
		});
		pipeline.onPlay = () => this.say('playing');
		pipeline.onServerClose = () => this.say('the gateway ended the session');
		pipeline.rtsp.onError = (err) => this.say(`RTSP ${err.code || ''} ${String(err.message || err).split('\r\n')[0]}`);
		pipeline.ready.then(() => pipeline.rtsp.play(), (err) => this.say('WebSocket: ' + (err && err.message || err)));
	}

	// Extend the grant a minute before it ends, for as long as the view is open.
	renewAt(until) {
		clearTimeout(this.renewTimer);
		const ms = Math.max(5000, Date.parse(until) - Date.now() - this.app.clockSkewMs - 60000);
		this.renewTimer = setTimeout(async () => {
			const g = await attempt('Live view', () => api.post(`grants/${this.grantId}/extend`,
				{ extend_by_s: this.app.config.live_view_duration_s, reason: 'live view still open' }));
			if (g)
				this.renewAt(g.active_until);
		}, ms);
	}

	revoke(id, reason, keepalive = false) {
		return api.request('POST', `grants/${id}/revoke`, { reason }, { keepalive }).catch(() => {});
	}

	async stop(reason, keepalive = false) {
		clearTimeout(this.renewTimer);
		if (this.pipeline) {
			try { this.pipeline.close(); } catch { /* already closed */ }
			this.pipeline = null;
		}
		this.video.removeAttribute('src');
		if (this.grantId) {
			const id = this.grantId;
			this.grantId = null;
			await this.revoke(id, reason, keepalive);
		}
	}
}
