// AWS's own client, Amplify JS v6, against streambridge's local servers (tests/integration/test_amplify.py).
//
// Usage: node client.mjs '<JSON job>'; every result is one JSON line on stdout:
//   {"event": "subscribed"} | {"event": "message", "data": ...} | {"event": "error", "error": ...}
//   {"event": "posted", "answer": ...} | {"event": "done"}
// With a "post", it posts once a line arrives on stdin (the test's word that the server has the subscription).
// Job: {"api": "graphql" | "events", "endpoint", "region", "auth": "apiKey" | "iam", "apiKey",
//       "credentials": {"accessKeyId", "secretAccessKey", "sessionToken"?},
//       "query", "variables" (graphql) | "channel", "post": {"channel", "events"} (events), "count"}
// The local authority is trusted through NODE_EXTRA_CA_CERTS, as a user would do it.
import WebSocket from 'ws';
import { Amplify } from 'aws-amplify';
import { generateClient } from 'aws-amplify/api';
import { events } from 'aws-amplify/data';

// Node 20 has no global WebSocket; Amplify opens `new WebSocket(url, protocols)`.
globalThis.WebSocket ??= WebSocket;

const job = JSON.parse(process.argv[2]);
const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const fail = (error) => {
  emit({ event: 'error', error: describe(error) });
  process.exit(1);
};
const describe = (error) =>
  error?.errors ?? error?.error?.errors ?? { name: error?.name, message: error?.message ?? String(error) };

const apiConfig = {
  endpoint: job.endpoint,
  region: job.region,
  defaultAuthMode: job.auth,
  ...(job.apiKey ? { apiKey: job.apiKey } : {}),
};
// IAM: static test credentials in place of Cognito's identity pool.
const libraryOptions =
  job.auth === 'iam'
    ? {
        Auth: {
          credentialsProvider: {
            getCredentialsAndIdentityId: async () => ({ credentials: job.credentials }),
            clearCredentialsAndIdentityId: () => {},
          },
        },
      }
    : {};
Amplify.configure(
  { API: job.api === 'graphql' ? { GraphQL: apiConfig } : { Events: apiConfig } },
  libraryOptions,
);

const nextStdinLine = () =>
  new Promise((resolve) => {
    process.stdin.once('data', resolve);
  });

let received = 0;
const onMessage = (data) => {
  emit({ event: 'message', data });
  received += 1;
  if (received === job.count) {
    emit({ event: 'done' });
    process.exit(0);
  }
};

if (job.api === 'graphql') {
  generateClient()
    .graphql({ query: job.query, variables: job.variables ?? {} })
    .subscribe({ next: ({ data }) => onMessage(data), error: fail });
} else {
  try {
    const channel = await events.connect(job.channel);
    channel.subscribe({ next: onMessage, error: fail });
    emit({ event: 'subscribed' });
    if (job.post) {
      // subscribe() returns before the server has the subscription: post once the test says it has it
      await nextStdinLine();
      emit({ event: 'posted', answer: (await events.post(job.post.channel, job.post.events)) ?? null });
    }
  } catch (error) {
    fail(error);
  }
}
