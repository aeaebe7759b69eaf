// app.js - the admin page's start: configuration, login, the pages (#map,
// #grants, #sessions, #audit, #cameras), and the camera list kept fresh for
// the map's status colours. window.vssgate exposes the state and timings for
// the tests (t/integration/test_web.py) and the benchmark (contrib/bench).
'use strict';

import * as api from './api.js';
import { CameraMap } from './map.js';
import { GrantPanel } from './grant.js';
import { LiveView } from './live.js';
import { AuditView, CamerasView, GrantsView, SessionsView, attempt, clearError, el, showError } from './views.js';

const $ = (id) => document.getElementById(id);
const VIEWS = ['map', 'grants', 'sessions', 'audit', 'cameras'];
const CAMERA_POLL_MS = 5000;

const app = {
	config: {}, role: null, clockSkewMs: 0, timings: {},
	state: { cameras: [], authorities: [], sites: [] },
	cameraName(id) {
		const c = this.state.cameras.find((x) => x.id === id);
		return c ? c.name : `camera ${id}`;
	},
	authorityName(id) {
		const a = this.state.authorities.find((x) => x.id === id);
		return a ? a.name : `authority ${id}`;
	},
};
window.vssgate = app;

async function loadConfig() {
	const r = await fetch('config.json', { cache: 'no-store' });
	app.config = await r.json();
	// The server's clock decides when grants end; countdowns follow it, not this machine's.
	const date = r.headers.get('Date');
	if (date)
		app.clockSkewMs = Date.parse(date) - Date.now();
	if (app.config.map_attribution)
		$('map-attribution').textContent = app.config.map_attribution;
}

app.loadCameras = async function () {
	const t0 = performance.now();
	const cams = await attempt('Cameras', () => api.listAll('cameras'));
	if (!cams)
		return;
	const t1 = performance.now();
	app.state.cameras = cams;
	app.map.setCameras(cams, app.fitted);
	if (!app.fitted) {
		app.map.fit();
		app.map.render();
		app.fitted = true;
	}
	const drawn = app.map.lastRenderMs, t2 = performance.now();
	drawIndoor();
	drawList();
	if (!$('view-cameras').hidden)
		app.camerasView.draw();
	const t3 = performance.now();
	// Until the browser has painted the map: its rasterising is part of the cost.
	await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
	app.timings = { camerasFetchMs: t1 - t0, mapRenderMs: drawn, mapMs: t2 - t1, listsMs: t3 - t2,
		paintMs: performance.now() - t3, camerasToMapMs: performance.now() - t1,
		cameras: cams.length, at: Date.now() };
};

app.loadAuthorities = async function () {
	const list = await attempt('Authorities', () => api.listAll('authorities'));
	if (list) {
		app.state.authorities = list;
		app.grantPanel.fillAuthorities();
		app.auditView.fillAuthorities();
	}
};

async function loadSites() {
	const list = await attempt('Sites', () => api.listAll('sites'));
	if (list)
		app.state.sites = list;
}

// The cameras of the map as a list: for the keyboard and screen readers.
function drawList() {
	const frag = document.createDocumentFragment();
	for (const c of app.map.cameras) {
		const b = document.createElement('button');
		b.type = 'button';
		b.className = 'link';
		b.textContent = c.name;
		b.onclick = () => { app.map.selected = c; app.map.requestRender(); selectCamera(c.id); };
		const li = document.createElement('li');
		li.dataset.cameraId = c.id;
		li.dataset.status = c.cls;
		li.append(b, ` ${c.cls}`);
		frag.append(li);
	}
	$('map-list').replaceChildren(frag);
	$('map-count').textContent = app.map.cameras.length;
}

// Cameras with a floor and an indoor position, listed per floor.
function drawIndoor() {
	const floors = new Map();
	for (const c of app.state.cameras)
		if (c.floor !== null && c.floor !== undefined && c.floor !== '')
			(floors.get(c.floor) || floors.set(c.floor, []).get(c.floor)).push(c);
	const box = $('indoor');
	if (!floors.size)
		return box.replaceChildren(el('p', { class: 'note', text: 'No camera has a floor.' }));
	box.replaceChildren(...[...floors.entries()].sort().flatMap(([floor, cams]) => [
		el('h3', { text: `Floor ${floor}` }),
		el('ul', {}, ...cams.map((c) => el('li', { 'data-camera-id': c.id },
			el('button', { type: 'button', class: 'link', text: c.name, onclick: () => app.live(c) }),
			c.indoor_x !== null ? ` x ${c.indoor_x} m, y ${c.indoor_y} m` : ''))),
	]));
}

function selectCamera(id) {
	const box = $('selected-camera'), c = app.state.cameras.find((x) => x.id === id);
	if (!c)
		return void (box.hidden = true);
	const st = c.status || {};
	box.replaceChildren(el('h2', { text: c.name }),
		el('p', { text: [c.site, c.address].filter(Boolean).join(' · ') }),
		el('p', { text: `${st.online ? 'online' : st.last_error ? 'failing: ' + st.last_error : 'idle'}, ${st.readers || 0} readers` +
			(c.heading_deg !== null ? `, looking ${c.heading_deg}°` : '') }),
		el('button', { type: 'button', text: 'Live view', onclick: () => app.live(c) }), ' ',
		el('button', { type: 'button', text: 'Add to the grant', onclick: () => app.grantPanel.picked_(c.id) }));
	box.hidden = false;
}

function show(view) {
	if (!VIEWS.includes(view))
		view = 'map';
	for (const v of VIEWS)
		$('view-' + v).hidden = v !== view;
	for (const a of $('nav').querySelectorAll('a'))
		a.setAttribute('aria-current', a.dataset.view === view ? 'page' : 'false');
	document.body.dataset.view = view;
	if (view === 'map')
		app.map.resize();
	else if (view === 'grants')
		app.grants.load();
	else if (view === 'sessions')
		app.sessions.load();
	else if (view === 'audit')
		app.auditView.load(false);
	else if (view === 'cameras')
		app.camerasView.draw();
}

function showLogin() {
	for (const v of VIEWS)
		$('view-' + v).hidden = true;
	$('nav').hidden = $('who').hidden = true;
	$('view-login').hidden = false;
	document.body.dataset.view = 'login';
	$('login-form').elements.username.focus();
}

async function start() {
	const me = await attempt('Session', () => api.get('auth/me'));
	if (!me)
		return showLogin();
	app.role = me.role;
	$('who-name').textContent = `${me.username} (${me.role})`;
	$('view-login').hidden = true;
	$('nav').hidden = $('who').hidden = false;
	show(location.hash.slice(1));
	await Promise.all([loadSites(), app.loadAuthorities(), app.loadCameras()]);
	clearInterval(app.poll);
	app.poll = setInterval(() => { if (!document.hidden) app.loadCameras(); }, CAMERA_POLL_MS);
	document.body.dataset.ready = 'true';
}

function bindTools() {
	for (const b of document.querySelectorAll('.map-tools [data-tool]'))
		b.addEventListener('click', () => {
			for (const o of document.querySelectorAll('.map-tools [data-tool]'))
				o.setAttribute('aria-pressed', o === b ? 'true' : 'false');
			app.map.setTool(b.dataset.tool);
			app.map.canvas.focus();
		});
	$('map-fit').addEventListener('click', () => app.map.fit());
}

async function main() {
	api.setUnauthorizedHandler(() => { api.forget(); showLogin(); });
	await loadConfig();
	app.map = new CameraMap($('map'), {
		tiles: app.config.map_tiles,
		onSelect: selectCamera,
		onArea: (area) => app.grantPanel.areaDrawn(area),
		onPick: (id) => app.grantPanel.picked_(id),
	});
	app.grantPanel = new GrantPanel(app, app.map);
	app.grants = new GrantsView(app);
	app.sessions = new SessionsView(app);
	app.auditView = new AuditView(app);
	app.camerasView = new CamerasView(app);
	app.liveView = new LiveView(app);
	app.live = (cam) => {
		if (!app.config.live_view)
			return showError(new Error('The live view is not built into this gateway'), 'Live view');
		app.liveView.open(cam);
	};
	bindTools();
	// Cancel buttons are not submit buttons: Enter in a field submits with the default (OK, Save).
	for (const b of document.querySelectorAll('dialog [data-close]'))
		b.addEventListener('click', () => b.closest('dialog').close('cancel'));
	$('error-close').addEventListener('click', clearError);
	$('logout').addEventListener('click', async () => { await api.logout(); showLogin(); });
	$('login-form').addEventListener('submit', async (e) => {
		e.preventDefault();
		const f = e.target.elements;
		if (await attempt('Log in', () => api.login(f.username.value.trim(), f.password.value))) {
			f.password.value = '';
			start();
		}
	});
	window.addEventListener('hashchange', () => { if (api.loggedIn()) show(location.hash.slice(1)); });
	if (api.loggedIn())
		start();
	else
		showLogin();
}

main().catch((err) => showError(err, 'Start'));
