// grant.js - "grant in three clicks": pick the authority, draw an area (or pick
// cameras) on the map, grant. Levels (1V), duration (2 hours) and the
// emergency box have defaults; the reason must be typed. Before anything is
// granted the panel shows which cameras the area covers, as the gateway's own
// policy decides it (POST /api/v1/grants/preview); after, the credentials once.
'use strict';

import * as api from './api.js';
import { attempt, el, showCredentials, showError } from './views.js';

export class GrantPanel {
	constructor(app, map) {
		this.app = app;
		this.map = map;
		this.form = document.getElementById('grant-form');
		this.covers = document.getElementById('grant-covers');
		this.picked = new Set();
		this.previewSeq = 0;
		this.lastPreview = [];
		const f = this.form.elements;
		this.form.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
		for (const k of ['lat', 'lon', 'radius', 'polygon'])
			f[k].addEventListener('input', () => this.typedArea());
		f.camera_ids.addEventListener('input', () => {
			this.picked = new Set(this.ids(f.camera_ids.value));
			this.setScope('cameras');
			this.preview();
		});
		for (const r of f.scope)
			r.addEventListener('change', () => this.preview());
		document.getElementById('new-authority-add').addEventListener('click', () => this.addAuthority());
	}

	ids(text) {
		return text.split(/[\s,;]+/).filter((s) => /^[1-9][0-9]*$/.test(s)).map(Number);
	}

	setScope(scope) {
		this.form.elements.scope.value = scope;
	}

	fillAuthorities() {
		const sel = this.form.elements.authority_id, keep = sel.value;
		const list = this.app.state.authorities.filter((a) => a.name !== this.app.config.live_view_authority);
		sel.replaceChildren(el('option', { value: '', text: list.length ? 'Choose…' : 'No authority yet: add one below' }),
			...list.map((a) => el('option', { value: a.id, text: a.kind ? `${a.name} (${a.kind})` : a.name })));
		sel.value = keep;
	}

	async addAuthority() {
		const name = document.getElementById('new-authority-name'), kind = document.getElementById('new-authority-kind');
		if (!name.value.trim())
			return name.focus();
		const a = await attempt('New authority', () => api.post('authorities',
			{ name: name.value.trim(), kind: kind.value.trim() || null }));
		if (!a)
			return;
		await this.app.loadAuthorities();
		this.form.elements.authority_id.value = a.id;
		name.value = kind.value = '';
	}

	// The map drew an area: show it in the fields and preview it.
	areaDrawn(area) {
		const f = this.form.elements;
		this.setScope('area');
		if (area.polygon) {
			f.polygon.value = area.polygon.map(([a, b]) => `${a.toFixed(6)},${b.toFixed(6)}`).join('; ');
			f.lat.value = f.lon.value = f.radius.value = '';
		} else {
			f.lat.value = area.lat.toFixed(6);
			f.lon.value = area.lon.toFixed(6);
			f.radius.value = Math.round(area.radius_m);
			f.polygon.value = '';
		}
		this.preview();
	}

	picked_(id) {
		if (this.picked.has(id))
			this.picked.delete(id);
		else
			this.picked.add(id);
		this.form.elements.camera_ids.value = [...this.picked].join(', ');
		this.setScope('cameras');
		this.preview();
	}

	// The area typed in the fields (keyboard users), drawn on the map.
	typedArea() {
		this.setScope('area');
		const area = this.area();
		this.map.setArea(area);
		this.preview();
	}

	area() {
		const f = this.form.elements, num = (v) => Number(String(v).replace(',', '.'));
		if (f.polygon.value.trim()) {
			const pts = f.polygon.value.split(';').map((p) => p.split(',').map((v) => num(v.trim())));
			return pts.length >= 3 && pts.every((p) => p.length === 2 && p.every(Number.isFinite)) ? { polygon: pts } : null;
		}
		const lat = num(f.lat.value), lon = num(f.lon.value), r = num(f.radius.value);
		return f.lat.value && f.lon.value && f.radius.value && [lat, lon, r].every(Number.isFinite)
			? { lat, lon, radius_m: r } : null;
	}

	scope() {
		if (this.form.elements.scope.value === 'cameras')
			return this.picked.size ? { scope: 'cameras', camera_ids: [...this.picked] } : null;
		const area = this.area();
		return area ? { scope: 'area', area } : null;
	}

	async preview() {
		const scope = this.scope(), seq = ++this.previewSeq;
		if (!scope) {
			this.covers.textContent = 'Draw an area or pick cameras.';
			this.lastPreview = [];
			this.map.setHighlight([]);
			return;
		}
		try {
			const r = await api.post('grants/preview', scope);
			if (seq !== this.previewSeq)
				return;		// a newer drawing is on its way
			this.lastPreview = r.cameras;
			this.map.setHighlight(r.cameras.map((c) => c.id));
			this.covers.replaceChildren(...[el('strong', { text: `${r.count} camera${r.count === 1 ? '' : 's'}` }),
				r.count ? ' covered:' : ' covered: nothing to grant yet.',
				el('ul', {}, ...r.cameras.slice(0, 200).map((c) => el('li', { 'data-camera-id': c.id, text: c.name }))),
				r.count > 200 ? el('p', { text: `and ${r.count - 200} more` }) : null,
				r.unknown_camera_ids.length ? el('p', { text: `unknown ids: ${r.unknown_camera_ids.join(', ')}` }) : null,
			].filter((x) => x !== null));
			this.covers.dataset.count = r.count;
		} catch (err) {
			if (seq === this.previewSeq) {
				this.covers.textContent = `${err.message}: ${err.detail || ''}`;
				this.covers.dataset.count = 0;
			}
		}
	}

	async submit() {
		const f = this.form.elements, scope = this.scope();
		const levels = [...this.form.querySelectorAll('input[name=level]:checked')].map((c) => c.value);
		if (!f.authority_id.value)
			return showError(new Error('Choose the authority'), 'Grant'), f.authority_id.focus();
		if (!scope)
			return showError(new Error('Draw an area or pick cameras first'), 'Grant');
		if (!levels.length)
			return showError(new Error('Tick at least one level'), 'Grant');
		const doc = Object.assign({ authority_id: Number(f.authority_id.value), levels, reason: f.reason.value.trim(),
			duration_s: Number(f.duration.value), emergency: f.emergency.checked }, scope);
		const r = await attempt('Grant', () => api.post('grants', doc));
		if (!r)
			return;
		await showCredentials(r, (id) => this.app.cameraName(id));
		f.reason.value = '';
		f.emergency.checked = false;
		this.app.grants.load();
	}
}
