#!/usr/bin/env node
// The EHR's authorization server, for tests: node-oidc-provider (a certified OAuth 2.0 /
// OpenID Connect server; 8.8.1, the last line that supports Node 20) with the client
// credentials grant and the client authentication of SMART Backend Services (private_key_jwt,
// RS384 or ES384), token introspection (RFC 7662, how the FHIR test server checks a bearer
// token) and revocation (RFC 7009). In memory: a restart forgets every token.
//
//   node token_server.mjs [port]
//
// Environment:
//   TOKEN_TEST_PORT     port (default 8091; argv[2] wins)
//   TOKEN_TEST_HOST     bind address (default 127.0.0.1)
//   TOKEN_TEST_CONFIG   JSON file: {"clients": [oidc-provider client metadata, ...],
//                       "scopes": ["system/Observation.write", ...],
//                       "tokenSeconds": {"<client_id>": 300, ...}}  (access token lifetimes)
//   TOKEN_TEST_QUIET    "1" disables the one-line-per-token log
//
// Endpoints (issuer http://<host>:<port>): POST /token, POST /token/introspection,
// POST /token/revocation, GET /jwks, GET /.well-known/openid-configuration, and for the tests
// GET /test/stats -> {"issued": n, "refused": n} (token requests answered, by outcome).
import Provider, { errors } from 'oidc-provider';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

const HOST = process.env.TOKEN_TEST_HOST || '127.0.0.1';
const PORT = Number.parseInt(process.argv[2] || process.env.TOKEN_TEST_PORT || '8091', 10);
const QUIET = process.env.TOKEN_TEST_QUIET === '1';
const config = JSON.parse(fs.readFileSync(process.env.TOKEN_TEST_CONFIG, 'utf8'));
const issuer = `http://${HOST}:${PORT}`;
const SMART_MAX_ASSERTION_SECONDS = 300; // SMART: exp no more than five minutes in the future
const CLOCK_TOLERANCE_SECONDS = 5;

// The server's own signing key (for ID tokens it never issues here); made per run.
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'token-test-server', use: 'sig' };

const provider = new Provider(issuer, {
  clients: config.clients,
  scopes: config.scopes,
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  clockTolerance: CLOCK_TOLERANCE_SECONDS,
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    devInteractions: { enabled: false },
  },
  clientAuthMethods: ['private_key_jwt', 'client_secret_post', 'client_secret_basic'],
  enabledJWA: { clientAuthSigningAlgValues: ['RS384', 'ES384'] },
  ttl: {
    ClientCredentials: (_ctx, _token, client) => config.tokenSeconds?.[client.clientId] ?? 300,
  },
  // SMART Backend Services' rules on the client assertion, beyond RFC 7523 (which the provider
  // checks: signature by a key of the client's JWKS, iss, aud, exp, and a jti never seen before).
  async assertJwtClientAuthClaimsAndHeader(_ctx, claims, header) {
    if (!header.kid) {
      throw new errors.InvalidClientAuth('SMART: the client assertion header needs a kid');
    }
    const ahead = claims.exp - Math.floor(Date.now() / 1000);
    if (ahead > SMART_MAX_ASSERTION_SECONDS + CLOCK_TOLERANCE_SECONDS) {
      throw new errors.InvalidClientAuth(`SMART: exp is ${ahead} s ahead; at most 300`);
    }
  },
});

const stats = { issued: 0, refused: 0 };
function log(line) {
  if (!QUIET) console.log(`${new Date().toISOString()} ${line}`);
}
provider.on('grant.success', (ctx) => {
  stats.issued++;
  log(`token issued client=${ctx.oidc.client?.clientId}`);
});
provider.on('grant.error', (ctx, err) => {
  stats.refused++;
  const why = err.error_detail || err.cause?.message || err.error_description;
  log(`token refused client=${ctx.oidc.client?.clientId ?? '?'}: ${err.error} (${why})`);
});
provider.on('server_error', (_ctx, err) => console.error(err));

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url === '/test/stats') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  callback(req, res);
});

server.listen(PORT, HOST, () => {
  console.log(`token-test-server listening on ${issuer} (${config.clients.length} clients)`);
});

function shutdown(signal) {
  console.log(`token-test-server: ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(1), 5000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
