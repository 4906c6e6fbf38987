#!/usr/bin/env node
// Starts the AWS Amplify AppSync simulator for streambridge's integration tests.
//
//   node server.js --port 0 --schema schema.graphql --config resolvers.json --api-key KEY [--host 127.0.0.1]
//
// Every option also reads an environment variable (SIMULATOR_PORT, SIMULATOR_HOST, SIMULATOR_SCHEMA,
// SIMULATOR_CONFIG, SIMULATOR_API_KEY); defaults: port 0 (the OS picks a free one), host 127.0.0.1,
// schema.graphql and resolvers.json next to this file, API key "da2-streambridge-local".
//
// Serves GraphQL on http://HOST:PORT/graphql and AppSync's real-time protocol on
// ws://HOST:PORT/graphql/realtime (same HTTP server). Default auth API_KEY, AWS_IAM additional.
//
// stdout carries exactly one line, "READY <port>", once the server listens; everything else (the
// simulator's own console output, errors) goes to stderr, so a parent that stops reading stdout after
// READY never blocks us. Exits 0 on SIGTERM / SIGINT / stdin closed (the parent went away).
'use strict';

const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');

// The simulator logs with console.log; keep stdout for the READY protocol line only.
for (const level of ['log', 'info', 'debug', 'warn']) {
  console[level] = (...args) => console.error(...args);
}

function fail(message) {
  process.stderr.write(`server.js: ${message}\n`);
  process.exit(1);
}

function options() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      schema: { type: 'string' },
      config: { type: 'string' },
      'api-key': { type: 'string' },
    },
    strict: true,
  });
  const env = process.env;
  const opts = {
    port: Number(values.port ?? env.SIMULATOR_PORT ?? '0'),
    host: values.host ?? env.SIMULATOR_HOST ?? '127.0.0.1',
    schema: path.resolve(values.schema ?? env.SIMULATOR_SCHEMA ?? path.join(__dirname, 'schema.graphql')),
    config: path.resolve(values.config ?? env.SIMULATOR_CONFIG ?? path.join(__dirname, 'resolvers.json')),
    apiKey: values['api-key'] ?? env.SIMULATOR_API_KEY ?? 'da2-streambridge-local',
  };
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    fail(`invalid port ${JSON.stringify(values.port ?? env.SIMULATOR_PORT)}`);
  }
  return opts;
}

// resolvers.json: {"dataSources": [...], "resolvers": [...]} in the simulator's own config shapes;
// *MappingTemplateLocation paths are relative to the JSON file and are loaded as mapping templates.
function simulatorConfig(opts) {
  const raw = JSON.parse(fs.readFileSync(opts.config, 'utf8'));
  const baseDir = path.dirname(opts.config);
  const locations = new Set();
  for (const resolver of raw.resolvers ?? []) {
    for (const key of ['requestMappingTemplateLocation', 'responseMappingTemplateLocation']) {
      if (resolver[key]) locations.add(resolver[key]);
    }
  }
  for (const fn of raw.functions ?? []) {
    locations.add(fn.requestMappingTemplateLocation);
    locations.add(fn.responseMappingTemplateLocation);
  }
  const mappingTemplates = [...locations].map((location) => ({
    path: location,
    content: fs.readFileSync(path.resolve(baseDir, location), 'utf8'),
  }));
  return {
    schema: { path: opts.schema, content: fs.readFileSync(opts.schema, 'utf8') },
    dataSources: raw.dataSources ?? [],
    resolvers: raw.resolvers ?? [],
    functions: raw.functions ?? [],
    mappingTemplates,
    appSync: {
      name: 'streambridge-integration',
      apiKey: opts.apiKey,
      defaultAuthenticationType: { authenticationType: 'API_KEY' },
      additionalAuthenticationProviders: [{ authenticationType: 'AWS_IAM' }],
    },
  };
}

async function main() {
  const opts = options();
  const { AmplifyAppSyncSimulator } = require('@aws-amplify/amplify-appsync-simulator');

  const simulator = new AmplifyAppSyncSimulator({ port: opts.port });
  simulator.init(simulatorConfig(opts));

  // The simulator calls httpServer.listen(port) on all interfaces, and with port 0 it scans 8900-9999
  // itself. Bind exactly HOST:PORT instead (port 0 = an OS-assigned free port, race-free).
  // `_server._httpServer` is private in the pinned version; checked here so an upgrade fails loudly.
  const httpServer = simulator._server && simulator._server._httpServer;
  if (!httpServer || typeof httpServer.listen !== 'function') {
    fail('simulator internals changed: _server._httpServer not found (check the pinned version)');
  }
  const listen = httpServer.listen.bind(httpServer);
  httpServer.listen = () => listen(opts.port, opts.host);

  await simulator.start();
  const port = httpServer.address().port;

  let stopping = false;
  const shutdown = async (reason) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`server.js: stopping (${reason})\n`);
    const force = setTimeout(() => process.exit(0), 2000);
    force.unref();
    try {
      await simulator.stop();
      httpServer.closeAllConnections?.();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.stdin.on('end', () => void shutdown('stdin closed'));
  process.stdin.on('error', () => void shutdown('stdin error'));
  process.stdin.resume();

  process.stdout.write(`READY ${port}\n`);
}

main().catch((error) => fail(error && error.stack ? error.stack : String(error)));
