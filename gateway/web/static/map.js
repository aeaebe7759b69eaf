// map.js - the map of cameras: a <canvas> in Web Mercator (the projection of
// slippy-map tiles), drawn in one pass, so that thousands of cameras stay
// smooth. Without [web] map_tiles the background is plain (a graticule and a
// scale bar), which needs nothing from any server.
//
// Cameras are drawn at their Annex A position with their field of view (a
// wedge from heading and angle where known), coloured by live status. Tools:
// pan (and click a camera to select it), draw a circle (drag from its
// centre), draw a polygon (click the corners; double-click or Enter closes
// it), pick cameras (click to add or remove). Keyboard: arrows pan, + and -
// zoom, Enter closes a polygon, Escape cancels a drawing.
'use strict';

const TILE = 256;
const MAX_ZOOM = 21;
const GRID_STEPS = [10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001, 0.00005];
export const COLOURS = { online: '#2e9d4a', failing: '#d64545', idle: '#7a8794', disabled: '#ffffff' };
const VIEW_RANGE_M = 60;		// drawn length of a field of view, clamped in pixels

// Normalised Web Mercator (0..1 across the world) of a latitude and longitude.
export function mercator(lat, lon) {
	const s = Math.sin(Math.max(-85.05, Math.min(85.05, lat)) * Math.PI / 180);
	return { x: (lon + 180) / 360, y: 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI) };
}

function inverse(x, y) {
	const lon = x * 360 - 180;
	const lat = Math.atan(Math.sinh(Math.PI * (1 - 2 * y))) * 180 / Math.PI;
	return { lat, lon };
}

// Metres between two points (haversine), as the gateway's policy measures an area.
export function distanceM(a, b) {
	const r = 6371008.8, rad = Math.PI / 180;
	const dlat = (b.lat - a.lat) * rad, dlon = (b.lon - a.lon) * rad;
	const h = Math.sin(dlat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dlon / 2) ** 2;
	return 2 * r * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function statusClass(cam) {
	if (!cam.enabled)
		return 'disabled';
	const st = cam.status || {};
	if (st.online)
		return 'online';
	if (st.active || st.last_error)
		return 'failing';
	return 'idle';
}

export class CameraMap {
	constructor(canvas, opts = {}) {
		this.canvas = canvas;
		this.ctx = canvas.getContext('2d');
		this.tiles = opts.tiles || '';
		this.tileCache = new Map();
		this.cameras = [];
		this.highlight = new Set();	// covered by the area, or picked
		this.selected = null;
		this.area = null;		// {lat, lon, radius_m} or {polygon: [[lat, lon], ...]}
		this.drawing = null;		// polygon corners being placed
		this.tool = 'pan';
		this.zoom = 2;
		this.center = { x: 0.5, y: 0.5 };
		this.pointer = null;
		this.lastRenderMs = 0;
		this.renders = 0;
		this.onSelect = opts.onSelect || (() => {});
		this.onArea = opts.onArea || (() => {});
		this.onPick = opts.onPick || (() => {});
		this.pending = false;
		this.bind();
		new ResizeObserver(() => this.resize()).observe(canvas);
		this.resize();
	}

	// --- geometry ------------------------------------------------------------------------

	get worldPx() { return TILE * 2 ** this.zoom; }

	project(lat, lon) {
		const m = mercator(lat, lon);
		return this.fromWorld(m.x, m.y);
	}

	fromWorld(x, y) {
		const w = this.worldPx;
		return { x: (x - this.center.x) * w + this.width / 2, y: (y - this.center.y) * w + this.height / 2 };
	}

	unproject(px, py) {
		const w = this.worldPx;
		return inverse(this.center.x + (px - this.width / 2) / w, this.center.y + (py - this.height / 2) / w);
	}

	metresPerPixel(lat) {
		return 40075016.686 * Math.cos(lat * Math.PI / 180) / this.worldPx;
	}

	// --- data ----------------------------------------------------------------------------

	setCameras(list, draw = true) {
		this.cameras = list.filter((c) => c.latitude !== null && c.longitude !== null).map((c) => {
			const m = mercator(c.latitude, c.longitude);
			return { id: c.id, name: c.name, lat: c.latitude, lon: c.longitude, mx: m.x, my: m.y,
				heading: c.heading_deg, fov: c.fov_deg, cls: statusClass(c) };
		});
		if (draw)
			this.render();
	}

	setHighlight(ids) {
		this.highlight = new Set(ids);
		this.requestRender();
	}

	setArea(area) {
		this.area = area;
		this.requestRender();
	}

	fit() {
		if (this.cameras.length === 0) {
			this.center = mercator(48.8566, 2.3522);
			this.zoom = 11;
		} else {
			let x0 = 1, x1 = 0, y0 = 1, y1 = 0;
			for (const c of this.cameras) {
				x0 = Math.min(x0, c.mx); x1 = Math.max(x1, c.mx);
				y0 = Math.min(y0, c.my); y1 = Math.max(y1, c.my);
			}
			this.center = { x: (x0 + x1) / 2, y: (y0 + y1) / 2 };
			const zx = Math.log2(this.width * 0.8 / (Math.max(x1 - x0, 1e-9) * TILE));
			const zy = Math.log2(this.height * 0.8 / (Math.max(y1 - y0, 1e-9) * TILE));
			this.zoom = Math.max(1, Math.min(17, zx, zy));
		}
		this.requestRender();
	}

	setTool(tool) {
		this.tool = tool;
		this.drawing = tool === 'polygon' ? [] : null;
		this.canvas.style.cursor = tool === 'pan' ? 'grab' : 'crosshair';
		this.requestRender();
	}

	// The camera drawn nearest to a screen point, within |radius| pixels.
	cameraAt(px, py, radius = 10) {
		let best = null, bestD = radius * radius;
		for (const c of this.cameras) {
			const p = this.fromWorld(c.mx, c.my);
			const d = (p.x - px) ** 2 + (p.y - py) ** 2;
			if (d <= bestD) {
				best = c;
				bestD = d;
			}
		}
		return best;
	}

	// --- drawing -------------------------------------------------------------------------

	resize() {
		const r = this.canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
		this.width = Math.max(1, r.width);
		this.height = Math.max(1, r.height);
		this.canvas.width = Math.round(this.width * dpr);
		this.canvas.height = Math.round(this.height * dpr);
		this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		this.render();
	}

	requestRender() {
		if (this.pending)
			return;
		this.pending = true;
		requestAnimationFrame(() => {
			this.pending = false;
			if (this.dragging && this.frame && this.frame.zoom === this.zoom)
				this.renderShifted();
			else
				this.render();
		});
	}

	// While the map is dragged: the last full drawing moved by the drag, which costs
	// one copy however many cameras there are; the full drawing follows the release.
	renderShifted() {
		const t0 = performance.now(), ctx = this.ctx, dpr = window.devicePixelRatio || 1, w = this.worldPx;
		const dx = Math.round((this.frame.cx - this.center.x) * w * dpr);
		const dy = Math.round((this.frame.cy - this.center.y) * w * dpr);
		ctx.save();
		ctx.setTransform(1, 0, 0, 1, 0, 0);
		ctx.fillStyle = this.tiles ? '#e5e9ec' : '#eef2ec';
		ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
		ctx.drawImage(this.frame.canvas, dx, dy);
		ctx.restore();
		this.lastRenderMs = performance.now() - t0;
		this.renders++;
	}

	// Keep the drawing just made, for renderShifted().
	keepFrame() {
		if (!this.frame || this.frame.canvas.width !== this.canvas.width || this.frame.canvas.height !== this.canvas.height) {
			const c = document.createElement('canvas');
			c.width = this.canvas.width;
			c.height = this.canvas.height;
			this.frame = { canvas: c, ctx: c.getContext('2d') };
		}
		this.frame.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
		this.frame.ctx.drawImage(this.canvas, 0, 0);
		this.frame.cx = this.center.x;
		this.frame.cy = this.center.y;
		this.frame.zoom = this.zoom;
	}

	render() {
		const t0 = performance.now(), ctx = this.ctx;
		ctx.clearRect(0, 0, this.width, this.height);
		if (this.tiles)
			this.drawTiles(ctx);
		else
			this.drawPlain(ctx);
		this.drawArea(ctx);
		this.drawCameras(ctx);
		this.drawScale(ctx);
		this.lastRenderMs = performance.now() - t0;
		this.fullRenderMs = this.lastRenderMs;
		this.renders++;
	}

	drawPlain(ctx) {
		ctx.fillStyle = '#eef2ec';
		ctx.fillRect(0, 0, this.width, this.height);
		const nw = this.unproject(0, 0), se = this.unproject(this.width, this.height);
		const degPerPx = (se.lon - nw.lon) / this.width;
		const step = GRID_STEPS.find((s) => s / degPerPx < 160) || GRID_STEPS[GRID_STEPS.length - 1];
		ctx.strokeStyle = '#d4dcd0';
		ctx.lineWidth = 1;
		ctx.fillStyle = '#8a978a';
		ctx.font = '11px system-ui, sans-serif';
		ctx.beginPath();
		for (let lon = Math.ceil(nw.lon / step) * step; lon < se.lon; lon += step) {
			const x = Math.round(this.project(0, lon).x) + 0.5;
			ctx.moveTo(x, 0);
			ctx.lineTo(x, this.height);
			ctx.fillText(lon.toFixed(Math.max(0, -Math.floor(Math.log10(step)))), x + 3, 12);
		}
		for (let lat = Math.ceil(se.lat / step) * step; lat < nw.lat; lat += step) {
			const y = Math.round(this.project(lat, 0).y) + 0.5;
			ctx.moveTo(0, y);
			ctx.lineTo(this.width, y);
			ctx.fillText(lat.toFixed(Math.max(0, -Math.floor(Math.log10(step)))), 3, y - 3);
		}
		ctx.stroke();
	}

	drawTiles(ctx) {
		const z = Math.max(0, Math.min(19, Math.round(this.zoom))), n = 2 ** z;
		const size = TILE * 2 ** (this.zoom - z);
		const tl = { x: this.center.x * n - this.width / 2 / size, y: this.center.y * n - this.height / 2 / size };
		ctx.fillStyle = '#e5e9ec';
		ctx.fillRect(0, 0, this.width, this.height);
		for (let ty = Math.floor(tl.y); ty < tl.y + this.height / size; ty++) {
			if (ty < 0 || ty >= n)
				continue;
			for (let tx = Math.floor(tl.x); tx < tl.x + this.width / size; tx++) {
				const img = this.tile(z, ((tx % n) + n) % n, ty);
				if (img.complete && img.naturalWidth > 0)
					ctx.drawImage(img, (tx - tl.x) * size, (ty - tl.y) * size, size + 0.5, size + 0.5);
			}
		}
	}

	tile(z, x, y) {
		const key = `${z}/${x}/${y}`;
		let img = this.tileCache.get(key);
		if (!img) {
			if (this.tileCache.size > 400)
				this.tileCache.delete(this.tileCache.keys().next().value);
			img = new Image();
			img.onload = () => this.requestRender();
			img.src = this.tiles.replace('{z}', z).replace('{x}', x).replace('{y}', y);
			this.tileCache.set(key, img);
		}
		return img;
	}

	drawArea(ctx) {
		const pts = this.area && this.area.polygon ? this.area.polygon : this.drawing;
		ctx.fillStyle = 'rgba(31, 111, 235, 0.14)';
		ctx.strokeStyle = '#1f6feb';
		ctx.lineWidth = 2;
		if (this.area && this.area.radius_m) {
			const c = this.project(this.area.lat, this.area.lon);
			ctx.beginPath();
			ctx.arc(c.x, c.y, this.area.radius_m / this.metresPerPixel(this.area.lat), 0, 2 * Math.PI);
			ctx.fill();
			ctx.stroke();
		} else if (pts && pts.length) {
			ctx.beginPath();
			pts.forEach(([lat, lon], i) => {
				const p = this.project(lat, lon);
				i ? ctx.lineTo(p.x, p.y) : ctx.moveTo(p.x, p.y);
			});
			if (this.drawing && this.pointer)
				ctx.lineTo(this.pointer.x, this.pointer.y);
			if (!this.drawing)
				ctx.closePath();
			ctx.fill();
			ctx.stroke();
		}
	}

	drawCameras(ctx) {
		const mpp = this.metresPerPixel(this.unproject(this.width / 2, this.height / 2).lat);
		const range = Math.max(14, Math.min(70, VIEW_RANGE_M / mpp));
		const w = this.worldPx, ox = this.width / 2 - this.center.x * w, oy = this.height / 2 - this.center.y * w;
		const visible = [], t0 = performance.now();
		for (const c of this.cameras) {
			const x = c.mx * w + ox, y = c.my * w + oy;
			if (x > -range && y > -range && x < this.width + range && y < this.height + range)
				visible.push([c, x, y]);
		}
		// Fields of view first: they sit under the markers.
		const coarse = visible.length > 1000;
		if (coarse)
			this.drawViewsStamped(ctx, visible, range);
		else
			this.drawViewsExact(ctx, visible, range);
		const t1 = performance.now();
		if (coarse) {
			// Thousands on screen: one small bitmap per colour, stamped. A software
			// rasteriser fills a few thousand tiny images far faster than one huge path.
			for (const [c, x, y] of visible)
				ctx.drawImage(this.sprite('m' + c.cls, 16, (g) => this.markerShape(g, c.cls)), x - 8, y - 8, 16, 16);
		} else {
			for (const cls of Object.keys(COLOURS)) {
				ctx.beginPath();
				for (const [c, x, y] of visible) {
					if (c.cls !== cls)
						continue;
					ctx.moveTo(x + 6, y);
					ctx.arc(x, y, 6, 0, 2 * Math.PI);
				}
				this.markerStyle(ctx, cls);
			}
		}
		this.partMs = { wedges: t1 - t0, markers: performance.now() - t1 };
		ctx.beginPath();
		for (const [c, x, y] of visible) {
			if (this.highlight.has(c.id)) {
				ctx.moveTo(x + 10, y);
				ctx.arc(x, y, 10, 0, 2 * Math.PI);
			}
		}
		ctx.strokeStyle = '#1f6feb';
		ctx.lineWidth = 3;
		ctx.stroke();
		if (this.selected) {
			const p = this.fromWorld(this.selected.mx, this.selected.my);
			ctx.beginPath();
			ctx.arc(p.x, p.y, 13, 0, 2 * Math.PI);
			ctx.strokeStyle = '#1c2430';
			ctx.lineWidth = 2;
			ctx.stroke();
			ctx.fillStyle = '#1c2430';
			ctx.font = '600 12px system-ui, sans-serif';
			ctx.fillText(this.selected.name, p.x + 15, p.y + 4);
		}
	}

	drawViewsExact(ctx, visible, range) {
		ctx.beginPath();
		for (const [c, x, y] of visible) {
			if (c.heading === null || c.heading === undefined)
				continue;
			const half = (c.fov ? Math.min(c.fov, 359) : 20) * Math.PI / 360;
			const a = (c.heading - 90) * Math.PI / 180;
			ctx.moveTo(x, y);
			ctx.arc(x, y, range, a - half, a + half);
			ctx.closePath();
		}
		ctx.fillStyle = 'rgba(255, 176, 32, 0.28)';
		ctx.strokeStyle = 'rgba(178, 107, 0, 0.55)';
		ctx.lineWidth = 1;
		ctx.fill();
		ctx.stroke();
	}

	// Views as bitmaps, by heading and angle rounded to 10 degrees and range to 2 px
	// (only when thousands are on screen, where that cannot be told apart).
	drawViewsStamped(ctx, visible, range) {
		const r = Math.round(range / 2) * 2, size = 2 * r + 2;
		for (const [c, x, y] of visible) {
			if (c.heading === null || c.heading === undefined)
				continue;
			const h = Math.round(c.heading / 10) * 10 % 360, f = Math.max(10, Math.round((c.fov || 40) / 10) * 10);
			const img = this.sprite(`v${h}/${f}/${r}`, size, (g) => {
				const half = Math.min(f, 359) * Math.PI / 360, a = (h - 90) * Math.PI / 180;
				g.beginPath();
				g.moveTo(r + 1, r + 1);
				g.arc(r + 1, r + 1, r, a - half, a + half);
				g.closePath();
				g.fillStyle = 'rgba(255, 176, 32, 0.28)';
				g.fill();
			});
			ctx.drawImage(img, x - r - 1, y - r - 1, size, size);
		}
	}

	markerShape(g, cls) {
		g.beginPath();
		g.arc(8, 8, 6, 0, 2 * Math.PI);
		this.markerStyle(g, cls);
	}

	markerStyle(g, cls) {
		g.fillStyle = COLOURS[cls];
		g.fill();
		g.strokeStyle = cls === 'disabled' ? '#1c2430' : '#ffffff';
		g.lineWidth = cls === 'disabled' ? 2 : 1.5;
		g.stroke();
	}

	// A small bitmap drawn once by |draw| (in CSS pixels) at the screen's density, then reused.
	sprite(key, size, draw) {
		const dpr = window.devicePixelRatio || 1;
		this.sprites = this.sprites || new Map();
		let c = this.sprites.get(key);
		if (!c || c.dpr !== dpr) {
			if (this.sprites.size > 3000)
				this.sprites.clear();
			c = document.createElement('canvas');
			c.width = c.height = Math.ceil(size * dpr);
			c.dpr = dpr;
			const g = c.getContext('2d');
			g.scale(dpr, dpr);
			draw(g);
			this.sprites.set(key, c);
		}
		return c;
	}

	drawScale(ctx) {
		const mpp = this.metresPerPixel(this.unproject(this.width / 2, this.height / 2).lat);
		const target = mpp * 120, pow = 10 ** Math.floor(Math.log10(target));
		const m = [5, 2, 1].map((k) => k * pow).find((v) => v <= target) || pow;
		const px = m / mpp, x = this.width - px - 12, y = this.height - 28;
		ctx.strokeStyle = '#1c2430';
		ctx.lineWidth = 2;
		ctx.beginPath();
		ctx.moveTo(x, y - 5); ctx.lineTo(x, y); ctx.lineTo(x + px, y); ctx.lineTo(x + px, y - 5);
		ctx.stroke();
		ctx.fillStyle = '#1c2430';
		ctx.font = '11px system-ui, sans-serif';
		ctx.fillText(m >= 1000 ? `${m / 1000} km` : `${m} m`, x, y - 8);
	}

	// --- interaction ---------------------------------------------------------------------

	zoomAt(px, py, dz) {
		const before = this.unproject(px, py);
		this.zoom = Math.max(1, Math.min(MAX_ZOOM, this.zoom + dz));
		const m = mercator(before.lat, before.lon), w = this.worldPx;
		this.center = { x: m.x - (px - this.width / 2) / w, y: m.y - (py - this.height / 2) / w };
		this.requestRender();
	}

	panBy(dx, dy) {
		const w = this.worldPx;
		this.center = { x: this.center.x - dx / w, y: Math.max(0, Math.min(1, this.center.y - dy / w)) };
		this.requestRender();
	}

	finishPolygon() {
		if (!this.drawing || this.drawing.length < 3)
			return;
		const polygon = this.drawing;
		this.drawing = [];
		this.area = { polygon };
		this.onArea(this.area);
		this.requestRender();
	}

	local(e) {
		const r = this.canvas.getBoundingClientRect();
		return { x: e.clientX - r.left, y: e.clientY - r.top };
	}

	bind() {
		const cv = this.canvas;
		let down = null;
		cv.addEventListener('pointerdown', (e) => {
			cv.setPointerCapture(e.pointerId);
			const p = this.local(e);
			down = { start: p, last: p, moved: false };
			if (this.tool === 'circle') {
				const c = this.unproject(p.x, p.y);
				this.area = { lat: c.lat, lon: c.lon, radius_m: 1 };
				down.circle = true;
			}
		});
		cv.addEventListener('pointermove', (e) => {
			const p = this.local(e);
			this.pointer = p;
			if (!down) {
				if (this.drawing && this.drawing.length)
					this.requestRender();
				return;
			}
			if (Math.abs(p.x - down.start.x) + Math.abs(p.y - down.start.y) > 4)
				down.moved = true;
			if (down.circle) {
				const c = this.unproject(p.x, p.y);
				this.area = { lat: this.area.lat, lon: this.area.lon, radius_m: Math.max(1, distanceM(this.area, c)) };
				this.requestRender();
			} else if (down.moved) {
				if (!this.dragging)
					this.keepFrame();	// what the screen shows now, moved while dragging
				this.dragging = true;
				this.panBy(p.x - down.last.x, p.y - down.last.y);
			}
			down.last = p;
		});
		cv.addEventListener('pointerup', (e) => {
			const p = this.local(e), d = down;
			down = null;
			if (this.dragging) {
				this.dragging = false;
				this.requestRender();
			}
			if (!d)
				return;
			if (d.circle) {
				if (d.moved) {
					this.area.radius_m = Math.round(this.area.radius_m);
					this.onArea(this.area);
				}
				return;
			}
			if (d.moved)
				return;
			const cam = this.cameraAt(p.x, p.y);
			if (this.tool === 'polygon') {
				const c = this.unproject(p.x, p.y);
				this.area = null;
				this.drawing.push([c.lat, c.lon]);
				this.requestRender();
			} else if (this.tool === 'pick' && cam) {
				this.onPick(cam.id);
			} else if (cam || this.tool === 'pan') {
				this.selected = cam;
				this.onSelect(cam ? cam.id : null);
				this.requestRender();
			}
		});
		cv.addEventListener('dblclick', (e) => {
			if (this.tool !== 'polygon')
				return;
			e.preventDefault();
			// The double click's second click added one corner too many.
			if (this.drawing.length > 3)
				this.drawing.pop();
			this.finishPolygon();
		});
		cv.addEventListener('wheel', (e) => {
			e.preventDefault();
			const p = this.local(e);
			this.zoomAt(p.x, p.y, -Math.sign(e.deltaY) * 0.5);
		}, { passive: false });
		cv.addEventListener('keydown', (e) => {
			const k = e.key, step = 80;
			if (k === 'ArrowLeft') this.panBy(step, 0);
			else if (k === 'ArrowRight') this.panBy(-step, 0);
			else if (k === 'ArrowUp') this.panBy(0, step);
			else if (k === 'ArrowDown') this.panBy(0, -step);
			else if (k === '+' || k === '=') this.zoomAt(this.width / 2, this.height / 2, 1);
			else if (k === '-') this.zoomAt(this.width / 2, this.height / 2, -1);
			else if (k === 'Enter') this.finishPolygon();
			else if (k === 'Escape') { this.drawing = this.tool === 'polygon' ? [] : null; this.requestRender(); }
			else return;
			e.preventDefault();
		});
	}
}
