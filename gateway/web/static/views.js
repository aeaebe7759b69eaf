// views.js - the pages other than the map: grants (live countdowns, extend,
// revoke), sessions (end one), audit (query, verify the chain) and cameras
// (add, edit, CSV import and export); and the small DOM helpers they share.
// Everything is built with DOM calls and textContent: no HTML from data.
'use strict';

import * as api from './api.js';

// --- helpers ------------------------------------------------------------------------------

export function el(tag, attrs = {}, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs)) {
		if (k === 'class') e.className = v;
		else if (k === 'text') e.textContent = v;
		else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
		else if (v !== false && v !== null && v !== undefined) e.setAttribute(k, v === true ? '' : v);
	}
	for (const c of children)
		if (c !== null && c !== undefined)
			e.append(c);
	return e;
}

const $ = (id) => document.getElementById(id);

// An API error (or any other) at the top of the page, with the API's detail and hint.
export function showError(err, what) {
	$('error-title').textContent = (what ? what + ': ' : '') + (err.message || String(err));
	$('error-detail').textContent = err.detail || '';
	$('error-hint').textContent = err.hint || '';
	$('error').hidden = false;
	console.warn('vssgate:', what || '', err.message, err.detail || '', err.hint || '');
}

export function clearError() { $('error').hidden = true; }

// Run an action; show its error if it fails. Returns the action's result or undefined.
export async function attempt(what, fn) {
	try {
		const r = await fn();
		clearError();
		return r;
	} catch (err) {
		showError(err, what);
		return undefined;
	}
}

// A one-line question in a modal dialog; resolves to the text, or null if cancelled.
export function ask(title, label, value = '') {
	const d = $('prompt-dialog'), f = $('prompt-form');
	$('prompt-title').textContent = title;
	$('prompt-label').firstElementChild.textContent = label;
	f.elements.value.value = value;
	return new Promise((resolve) => {
		d.addEventListener('close', () => resolve(d.returnValue === 'ok' ? f.elements.value.value.trim() : null),
			{ once: true });
		d.returnValue = '';
		d.showModal();
		f.elements.value.select();
	});
}

export function fmtTime(s) {
	return s ? new Date(s).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }) : '';
}

export function fmtDuration(seconds) {
	if (seconds <= 0)
		return '0s';
	const d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600);
	const m = Math.floor(seconds % 3600 / 60), s = Math.floor(seconds % 60);
	if (d) return `${d}d ${h}h ${m}m`;
	if (h) return `${h}h ${String(m).padStart(2, '0')}m ${String(s).padStart(2, '0')}s`;
	return `${m}m ${String(s).padStart(2, '0')}s`;
}

export function fmtBytes(n) {
	if (n < 1024) return `${n} B`;
	const u = ['KiB', 'MiB', 'GiB', 'TiB'];
	let i = -1;
	do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
	return `${n.toFixed(1)} ${u[i]}`;
}

async function copy(text, button) {
	try {
		await navigator.clipboard.writeText(text);
	} catch {
		// Not a secure context (plain http on a LAN address): the old way.
		const t = el('textarea', { readonly: true });
		t.value = text;
		document.body.append(t);
		t.select();
		document.execCommand('copy');
		t.remove();
	}
	button.textContent = 'Copied';
	setTimeout(() => { button.textContent = 'Copy'; }, 1500);
}

function secretRow(label, value) {
	const b = el('button', { type: 'button', text: 'Copy' });
	b.addEventListener('click', () => copy(value, b));
	return el('div', { class: 'secret' }, el('span', { text: label }), el('code', { text: value }), b);
}

// The answer of POST /grants: the credentials, once, with copy buttons and the URLs.
export function showCredentials(r, cameraName) {
	const body = $('credentials-body'), c = r.credentials;
	body.replaceChildren(
		el('p', { text: `Grant ${r.grant.id} for ${r.grant.authority}, until ${fmtTime(r.grant.active_until)}.` }),
		secretRow('User', c.username), secretRow('Password', c.password),
		...(c.rtsp_urls.length ? [el('h3', { text: 'RTSP' })] : []),
		...c.rtsp_urls.map((u) => secretRow(cameraName(u.camera_id), u.url)),
		...(c.rtsp_urls.some((u) => u.replay_url) ? [el('h3', { text: 'Replay (RTSP)' })] : []),
		...c.rtsp_urls.filter((u) => u.replay_url)
			.map((u) => secretRow(`${cameraName(u.camera_id)} (replay)`, u.replay_url)),
		el('h3', { text: 'ONVIF' }), secretRow('Device service', c.onvif_device_service),
		...(r.notes || []).map((n) => el('p', { class: 'note', text: n })));
	const d = $('credentials-dialog');
	d.showModal();
	return new Promise((resolve) => {
		$('credentials-close').onclick = () => {
			body.replaceChildren();		// the password leaves the page with the dialog
			d.close();
			resolve();
		};
	});
}

// --- grants -------------------------------------------------------------------------------

export class GrantsView {
	constructor(app) {
		this.app = app;
		this.tbody = $('grants-table').tBodies[0];
		this.grants = [];
		$('grants-refresh').addEventListener('click', () => this.load());
		$('grants-show-ended').addEventListener('change', () => this.draw());
		$('grants-show-views').addEventListener('change', () => this.draw());
		setInterval(() => this.tick(), 1000);
	}

	async load() {
		const grants = await attempt('Grants', () => api.listAll('grants'));
		if (grants) {
			this.grants = grants.reverse();
			this.draw();
		}
	}

	draw() {
		const ended = $('grants-show-ended').checked, views = $('grants-show-views').checked;
		const rows = this.grants.filter((g) => (ended || g.state === 'active' || g.state === 'pending') &&
			(views || g.authority !== this.app.config.live_view_authority));
		this.tbody.replaceChildren(...rows.map((g) => this.row(g)));
		this.tick();
	}

	scopeText(g) {
		if (g.scope === 'cameras')
			return g.camera_ids.map((id) => this.app.cameraName(id)).join(', ');
		if (g.scope === 'sites')
			return 'sites ' + g.site_ids.join(', ');
		return g.area.polygon ? `polygon of ${g.area.polygon.length} points` : `${Math.round(g.area.radius_m)} m around ${g.area.lat.toFixed(5)}, ${g.area.lon.toFixed(5)}`;
	}

	row(g) {
		const live = g.state === 'active' || g.state === 'pending';
		const tr = el('tr', { class: live ? '' : 'ended', 'data-grant-id': g.id, 'data-state': g.state },
			el('td', { text: g.id }), el('td', { text: g.authority }),
			el('td', { text: g.levels.join(' ') + (g.emergency ? ' ⚠ emergency' : '') }),
			el('td', { text: this.scopeText(g) }), el('td', { text: g.reason }),
			el('td', { class: 'state-' + g.state, text: g.state + (g.revoke_reason ? `: ${g.revoke_reason}` : '') }),
			el('td', { class: 'countdown', 'data-until': live ? g.active_until : '' }),
			el('td', { class: 'actions' },
				el('button', { type: 'button', text: 'Extend', onclick: () => this.extend(g) }),
				el('button', { type: 'button', class: 'danger', text: 'Revoke', onclick: () => this.revoke(g) })));
		return tr;
	}

	// The live countdown of every grant on screen, from the server's end time.
	tick() {
		const now = Date.now() + this.app.clockSkewMs;
		for (const td of this.tbody.querySelectorAll('td.countdown')) {
			if (!td.dataset.until) {
				td.textContent = '';
				continue;
			}
			const left = Math.max(0, (Date.parse(td.dataset.until) - now) / 1000);
			td.dataset.remainingS = Math.floor(left);
			td.textContent = left > 0 ? fmtDuration(left) : 'ended';
		}
	}

	async extend(g) {
		const minutes = await ask(`Extend grant ${g.id}`, 'By how many minutes?', '60');
		if (minutes === null)
			return;
		if (await attempt('Extend', () => api.post(`grants/${g.id}/extend`, { extend_by_s: Number(minutes) * 60 })))
			await this.load();
	}

	async revoke(g) {
		const reason = await ask(`Revoke grant ${g.id}`, 'Reason', '');
		if (!reason)
			return;
		if (await attempt('Revoke', () => api.post(`grants/${g.id}/revoke`, { reason })))
			await this.load();
	}
}

// --- sessions ------------------------------------------------------------------------------

export class SessionsView {
	constructor(app) {
		this.app = app;
		this.tbody = $('sessions-table').tBodies[0];
		$('sessions-refresh').addEventListener('click', () => this.load());
		$('sessions-live').addEventListener('change', () => this.load());
	}

	async load() {
		const open = $('sessions-live').checked ? 'true' : 'all';
		const items = await attempt('Sessions', () => api.listAll(`sessions?open=${open}`, 5000));
		if (!items)
			return;
		this.tbody.replaceChildren(...items.reverse().map((s) => el('tr',
			{ class: s.ended_at ? 'ended' : '', 'data-session-id': s.id },
			el('td', { text: s.id }), el('td', { text: s.authority || '' }),
			el('td', { text: s.camera || s.camera_id || '' }), el('td', { text: s.username || '' }),
			el('td', { text: `${s.protocol} ${s.transport || ''}` }), el('td', { text: s.peer }),
			el('td', { text: fmtTime(s.started_at) + (s.ended_at ? ` – ${fmtTime(s.ended_at)}` : '') }),
			el('td', { text: fmtBytes(s.bytes_sent) }),
			el('td', { class: 'actions' }, el('button', { type: 'button', class: 'danger', text: 'End',
				onclick: () => this.end(s) })))));
	}

	async end(s) {
		const reason = await ask(`End session ${s.id}`, 'Reason', '');
		if (reason === null)
			return;
		if (!await attempt('End session', () => api.del(`sessions/${s.id}`, reason ? { reason } : undefined)))
			return;
		// The node serving it ends it (maybe another one): look again until the row says so.
		for (let i = 0; i < 10; i++) {
			await this.load();
			const tr = this.tbody.querySelector(`tr[data-session-id="${s.id}"]`);
			if (!tr || tr.classList.contains('ended'))
				return;
			await new Promise((r) => setTimeout(r, 500));
		}
	}
}

// --- audit -----------------------------------------------------------------------------------

export class AuditView {
	constructor(app) {
		this.app = app;
		this.form = $('audit-form');
		this.tbody = $('audit-table').tBodies[0];
		this.cursor = null;
		this.form.addEventListener('submit', (e) => { e.preventDefault(); this.load(false); });
		$('audit-more').addEventListener('click', () => this.load(true));
		$('audit-verify').addEventListener('click', () => this.verify());
	}

	fillAuthorities() {
		const sel = this.form.elements.authority_id, keep = sel.value;
		sel.replaceChildren(el('option', { value: '', text: 'any' }),
			...this.app.state.authorities.map((a) => el('option', { value: a.id, text: a.name })));
		sel.value = keep;
	}

	query() {
		const f = this.form.elements, q = new URLSearchParams({ order: 'desc', limit: '100' });
		for (const k of ['from', 'to'])
			if (f[k].value)
				q.set(k, new Date(f[k].value).toISOString());
		for (const k of ['authority_id', 'camera_id', 'action'])
			if (f[k].value.trim())
				q.set(k, f[k].value.trim());
		if (this.cursor)
			q.set('cursor', this.cursor);
		return q;
	}

	async load(more) {
		if (!more)
			this.cursor = null;
		const page = await attempt('Audit', () => api.get('audit?' + this.query()));
		if (!page)
			return;
		const rows = page.items.map((r) => el('tr', { 'data-audit-id': r.id, 'data-action': r.action },
			el('td', { text: r.id }), el('td', { text: fmtTime(r.at) }), el('td', { text: r.actor }),
			el('td', { text: r.action }), el('td', { text: r.outcome }),
			el('td', { text: r.authority_id ? this.app.authorityName(r.authority_id) : '' }),
			el('td', { text: r.grant_id || '' }), el('td', { text: r.camera_id ? this.app.cameraName(r.camera_id) : '' }),
			el('td', { class: 'detail', text: JSON.stringify(r.detail) })));
		if (more)
			this.tbody.append(...rows);
		else
			this.tbody.replaceChildren(...rows);
		this.cursor = page.next_cursor;
		$('audit-more').hidden = !this.cursor;
	}

	async verify() {
		const out = $('audit-verify-result');
		out.className = 'verify';
		out.textContent = 'Verifying…';
		const r = await attempt('Verify', () => api.get('audit/verify'));
		if (!r) {
			out.textContent = '';
			return;
		}
		out.className = 'verify ' + (r.ok ? 'ok' : 'bad');
		out.textContent = r.ok ? `The chain is intact: ${r.rows} rows checked.`
			: `The chain is broken at row ${r.first_bad_id} (${r.why}); ${r.rows} rows before it are intact.`;
		out.dataset.ok = r.ok;
		for (const tr of this.tbody.querySelectorAll('tr.broken'))
			tr.classList.remove('broken');
		if (!r.ok) {
			out.dataset.firstBadId = r.first_bad_id;
			const tr = this.tbody.querySelector(`tr[data-audit-id="${r.first_bad_id}"]`);
			if (tr) {
				tr.classList.add('broken');
				tr.scrollIntoView({ block: 'center' });
			}
		}
	}
}

// --- cameras ----------------------------------------------------------------------------------

// The recorder's state of a camera (status.recorder): recording, paused, off, and what is kept.
function recordingCell(c) {
	const r = (c.status || {}).recorder;
	const kept = r && r.segments ? `${(r.bytes / 1048576).toFixed(0)} MiB since ${fmtTime(r.oldest)}` : '';
	const state = !c.record ? 'off' : !r ? 'starting' : r.disk_full ? 'disk_full' : r.recording ? 'recording' : 'starting';
	const words = { off: 'off', starting: 'waiting for the source', disk_full: 'paused: disk full', recording: 'recording' };
	const keep = c.record ? `, kept ${c.retention_s ? c.retention_s / 3600 + ' h' : 'the default time'}` : '';
	return el('td', { class: 'recording', 'data-recording': state,
		text: `${words[state]}${keep}${kept ? '; ' + kept : ''}` });
}

const NUMBERS = ['latitude', 'longitude', 'altitude_m', 'heading_deg', 'tilt_deg', 'fov_deg', 'indoor_x',
	'indoor_y', 'indoor_z', 'multicast_port'];
const TEXTS = ['name', 'source_uri', 'adapter', 'source_username', 'floor', 'address', 'multicast_group'];

export class CamerasView {
	constructor(app) {
		this.app = app;
		this.tbody = $('cameras-table').tBodies[0];
		this.dialog = $('camera-dialog');
		this.form = $('camera-form');
		$('camera-add').addEventListener('click', () => this.edit(null));
		$('csv-export').addEventListener('click', () => this.exportCsv());
		$('csv-import').addEventListener('change', (e) => this.importCsv(e.target));
		this.form.addEventListener('submit', (e) => {
			if (e.submitter && e.submitter.value === 'save') {
				e.preventDefault();
				this.save();
			}
		});
	}

	draw() {
		const admin = this.app.role === 'admin';
		this.tbody.replaceChildren(...this.app.state.cameras.map((c) => {
			const st = c.status || {};
			return el('tr', { 'data-camera-id': c.id },
				el('td', { text: c.id }), el('td', { text: c.name }), el('td', { text: c.site || '' }),
				el('td', { text: c.adapter || '' }),
				el('td', { text: c.latitude !== null ? `${c.latitude.toFixed(5)}, ${c.longitude.toFixed(5)}` : (c.floor ? `floor ${c.floor}` : '') }),
				el('td', { text: !c.enabled ? 'disabled' : st.online ? `online ${st.codec || ''} ${st.width ? st.width + '×' + st.height : ''}` : st.last_error ? `failing: ${st.last_error}` : st.active ? 'connecting' : 'idle' }),
				recordingCell(c),
				el('td', { class: 'actions' },
					el('button', { type: 'button', text: 'Live', onclick: () => this.app.live(c) }),
					admin ? el('button', { type: 'button', text: 'Edit', onclick: () => this.edit(c) }) : null,
					admin ? el('button', { type: 'button', class: 'danger', text: 'Delete', onclick: () => this.remove(c) }) : null));
		}));
	}

	edit(cam) {
		this.editing = cam;
		const f = this.form.elements;
		$('camera-dialog-title').textContent = cam ? `Camera ${cam.id}` : 'New camera';
		f.site_id.replaceChildren(el('option', { value: '', text: 'none' }),
			...this.app.state.sites.map((s) => el('option', { value: s.id, text: s.name })));
		for (const k of [...TEXTS, ...NUMBERS])
			f[k].value = cam && cam[k] !== null && cam[k] !== undefined ? cam[k] : '';
		f.site_id.value = cam && cam.site_id ? cam.site_id : '';
		f.source_password.value = '';
		f.source_password.placeholder = cam && cam.has_source_password ? 'unchanged' : 'none';
		f.enabled.checked = cam ? cam.enabled : true;
		f.always_on.checked = cam ? !!cam.always_on : false;
		f.record.checked = cam ? !!cam.record : false;
		f.retention_h.value = cam && cam.retention_s ? String(cam.retention_s / 3600) : '';
		this.dialog.showModal();
	}

	// The document to send: everything for a new camera, only what changed for an edit.
	document() {
		const f = this.form.elements, cam = this.editing, doc = {};
		const put = (k, v) => {
			const old = cam ? (cam[k] === undefined ? null : cam[k]) : null;
			if (cam ? v !== old : v !== null)
				doc[k] = v;
		};
		for (const k of TEXTS)
			put(k, f[k].value.trim() === '' ? null : f[k].value.trim());
		for (const k of NUMBERS)
			put(k, f[k].value.trim() === '' ? null : Number(f[k].value.replace(',', '.')));
		put('site_id', f.site_id.value ? Number(f.site_id.value) : null);
		put('enabled', f.enabled.checked);
		put('always_on', f.always_on.checked);
		put('record', f.record.checked);
		put('retention_s', f.retention_h.value.trim() === '' ? null :
			Math.round(Number(f.retention_h.value.replace(',', '.')) * 3600));
		if (f.source_password.value)
			doc.source_password = f.source_password.value;
		if (doc.adapter === null)
			delete doc.adapter;
		return doc;
	}

	async save() {
		const doc = this.document(), cam = this.editing;
		const ok = await attempt(cam ? 'Save camera' : 'Add camera',
			() => cam ? api.patch(`cameras/${cam.id}`, doc) : api.post('cameras', doc));
		if (ok) {
			this.dialog.close();
			await this.app.loadCameras();
		}
	}

	async remove(cam) {
		const really = await ask(`Delete camera ${cam.name}`, 'Type the camera name to confirm', '');
		if (really !== cam.name)
			return;
		if (await attempt('Delete camera', () => api.del(`cameras/${cam.id}`)))
			await this.app.loadCameras();
	}

	async exportCsv() {
		const text = await attempt('Export', () => api.get('cameras/locations.csv', { accept: 'text/csv' }));
		if (text === undefined)
			return;
		const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
		const a = el('a', { href: url, download: 'camera-locations.csv' });
		document.body.append(a);
		a.click();
		a.remove();
		setTimeout(() => URL.revokeObjectURL(url), 10000);
		$('csv-result').textContent = `Exported ${text.split('\n').filter((l) => l).length - 1} cameras.`;
	}

	async importCsv(input) {
		const file = input.files[0];
		if (!file)
			return;
		const text = await file.text();
		input.value = '';
		try {
			const r = await api.post('cameras/locations.csv', undefined, { raw: text, type: 'text/csv' });
			$('csv-result').textContent = `Imported: ${r.created} created, ${r.updated} updated.`;
			clearError();
			await this.app.loadCameras();
		} catch (err) {
			const lines = err.body && err.body.errors ? err.body.errors.map((e) => `line ${e.line}: ${e.error}`) : [];
			$('csv-result').textContent = '';
			showError(Object.assign(err, { detail: [err.detail, ...lines].filter(Boolean).join('; ') }), 'Import');
		}
	}
}
