// A small Amplify page for the orders example, bundled for the browser by test_browser.py (esbuild).
// Its configuration comes in the page's hash: {"endpoint", "region", "apiKey"}.
// It shows "Connected" in #status once Amplify's WebSocket is up, each order change as a line of #log,
// and the answer of a query over https (`{ ping }`) in #query.
import { Amplify } from 'aws-amplify';
import { CONNECTION_STATE_CHANGE, ConnectionState, generateClient } from 'aws-amplify/api';
import { Hub } from 'aws-amplify/utils';

const config = JSON.parse(decodeURIComponent(location.hash.slice(1)));
Amplify.configure({
  API: {
    GraphQL: {
      endpoint: config.endpoint,
      region: config.region,
      defaultAuthMode: 'apiKey',
      apiKey: config.apiKey,
    },
  },
});
const $ = (id) => document.getElementById(id);
const client = generateClient();

Hub.listen('api', ({ payload }) => {
  if (payload.event === CONNECTION_STATE_CHANGE && payload.data.connectionState === ConnectionState.Connected) {
    $('status').textContent = 'Connected';
  }
});
client.graphql({ query: 'subscription { onOrderChanged { id status } }' }).subscribe({
  next: ({ data }) => {
    const line = document.createElement('div');
    line.textContent = `${data.onOrderChanged.id} ${data.onOrderChanged.status}`;
    $('log').append(line);
  },
  error: (error) => ($('status').textContent = `error: ${JSON.stringify(error)}`),
});
client.graphql({ query: '{ ping }' }).then(
  (answer) => ($('query').textContent = JSON.stringify(answer)),
  (error) => ($('query').textContent = `error: ${error?.errors?.[0]?.message ?? error}`),
);
