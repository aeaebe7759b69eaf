// api.js - the REST API of the gateway that served this page (/api/v1/).
//
// The bearer token of the login lives in this tab's sessionStorage (and in
// memory): never in a cookie, never in a URL. Requests go to this origin
// only; the gateway allows the page's own Origin ([api] allow_own_origin).
// Errors become ApiError with the API's error, detail and hint.
'use strict';

const TOKEN_KEY = 'vssgate.token';
let token = sessionStorage.getItem(TOKEN_KEY);
let onUnauthorized = () => {};

export class ApiError extends Error {
	constructor(status, body) {
		super((body && body.error) || `HTTP ${status}`);
		this.status = status;
		this.detail = body && body.detail;
		this.hint = body && body.hint;
		this.body = body;
	}
}

export function loggedIn() { return token !== null; }

export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

async function parse(resp) {
	const ctype = resp.headers.get('Content-Type') || '';
	if (ctype.startsWith('application/json'))
		return resp.json();
	return resp.text();
}

// fetch() with the token; |body| is JSON unless |opts.raw| (then sent as is with opts.type).
export async function request(method, path, body, opts = {}) {
	const headers = { Accept: opts.accept || 'application/json' };
	let data;
	if (token)
		headers.Authorization = 'Bearer ' + token;
	if (opts.raw !== undefined) {
		data = opts.raw;
		headers['Content-Type'] = opts.type || 'text/plain';
	} else if (body !== undefined) {
		data = JSON.stringify(body);
		headers['Content-Type'] = 'application/json';
	}
	const resp = await fetch('/api/v1/' + path, {
		method, headers, body: data, cache: 'no-store', credentials: 'omit', keepalive: !!opts.keepalive,
	});
	const out = await parse(resp);
	if (!resp.ok) {
		if (resp.status === 401 && token && path !== 'auth/login')
			onUnauthorized();
		throw new ApiError(resp.status, typeof out === 'object' ? out : null);
	}
	return out;
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path, body) => request('DELETE', path, body);

// Every item of a paginated list (following next_cursor), up to |max|.
export async function listAll(path, max = 100000) {
	const items = [];
	let cursor = null;
	do {
		const sep = path.includes('?') ? '&' : '?';
		const page = await get(`${path}${sep}limit=1000${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
		items.push(...page.items);
		cursor = page.next_cursor;
	} while (cursor && items.length < max);
	return items;
}

export async function login(username, password) {
	const r = await request('POST', 'auth/login', { username, password, label: 'admin page' });
	token = r.token;
	sessionStorage.setItem(TOKEN_KEY, token);
	return r;
}

export async function logout() {
	try {
		if (token)
			await post('auth/logout', {});
	} finally {
		forget();
	}
}

export function forget() {
	token = null;
	sessionStorage.removeItem(TOKEN_KEY);
}
