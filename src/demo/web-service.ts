// The demo's sample service: an HTTP server that answers with the node serving it and the
// group's epoch, so that a failover is visible from outside.
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
const node = process.env.CLUSTERD_NODE ?? 'unknown';
const epoch = process.env.CLUSTERD_EPOCH ?? '?';
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`served by ${node} (epoch ${epoch})\n`);
});
server.listen(port, '127.0.0.1');
// IGNORE_SIGTERM=1 makes it a service that will not stop when asked (for tests of the stop grace).
if (process.env.IGNORE_SIGTERM === '1') process.on('SIGTERM', () => undefined);
else process.on('SIGTERM', () => server.close(() => process.exit(0)));
