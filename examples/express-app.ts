/**
 * An Express 5 app with request metrics and `/metrics`, as you would write it. Run as many copies as
 * you like (pm2 cluster mode, containers): each serves the merged metrics of all of them.
 *
 *   node --import tsx examples/express-app.ts
 *   curl http://127.0.0.1:3000/users/42; curl http://127.0.0.1:3000/metrics
 *
 * Under pm2, use docs/deploying.md's ecosystem file (4 instances, cluster mode, `kill_timeout: 7000`)
 * with `script: 'examples/express-app.ts', interpreter: 'node', node_args: ['--import', 'tsx']`.
 * Environment: REDIS_URL (default redis://127.0.0.1:6379), PREFIX (default example-express),
 * PORT (default 3000).
 *
 * In your project, import from 'prometheus-redis-client' instead of '../src/index.js'.
 */
import express from 'express';
import { Registry, httpMetrics, installShutdownHooks } from '../src/index.js';

const registry = new Registry({
  redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  prefix: process.env.PREFIX ?? 'example-express',
});

const app = express();
app.use(httpMetrics({ registry }).express); // http_requests_total, http_request_duration_seconds, GET /metrics
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id });
});
const server = app.listen(Number(process.env.PORT ?? 3000));
// On SIGTERM/SIGINT: stop serving (requests in progress finish), deliver the last deltas, exit.
installShutdownHooks(registry, { servers: [server] });
