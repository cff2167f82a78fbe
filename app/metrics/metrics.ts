import type { IncomingHttpHeaders } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RequestAudit } from '../audit/request-audit.js';
import { isLocalDirectPeer } from '../request/client-address.js';
import { compileTrustedProxies } from '../request/trusted-proxies.js';
import type { RuntimeHolder } from '../runtime.js';
import type { AuditRecord, Peer } from '../types.js';

/**
 * Request duration buckets, in seconds: an advertisement takes milliseconds, a large clone
 * minutes; ten buckets keep each series' cost small.
 */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 300];

/** Label value of a request that is not for one plugin of the built-in or configured ones. */
const OTHER = 'other';

/** Plugin names counted as themselves; anything else a hook log says is `other` (bounded labels). */
const MAX_PLUGIN_LABELS = 64;

/** Reload results as the reloading runtime counts them (serve); absent in tests' fixed holders. */
export interface ReloadCounts {
  readonly ok: number;
  readonly failed: number;
}

/** The Prometheus series of one app; everything per request is recorded by `observe`, at the audit line. */
export interface Metrics {
  readonly registry: Registry;
  /** Records one finished request (called where its audit line is written). */
  observe(record: AuditRecord, audit: RequestAudit): void;
  /** Counts a backend process as running; call the returned function when it has exited. */
  backendStarted(): () => void;
  /** The exposition text and its content type. */
  render(): Promise<{ body: string; contentType: string }>;
}

/** What the series are built from. */
export interface MetricsOptions {
  readonly runtime: RuntimeHolder & { reloadCounts?(): ReloadCounts; throttledAddresses?(): number };
  readonly now: () => number;
  /** Add a `user` label to gitward_requests_total (operator's choice: one series per user). */
  readonly labelUsers: boolean;
  /** Add a `repo` label to gitward_requests_total (one series per repo). */
  readonly labelRepos: boolean;
}

/**
 * Creates the series of one app in a registry of its own (no global registry: two apps in one
 * process keep their own numbers). Per request the cost is a few label lookups at the audit
 * line's close; config age, reload results and process figures are computed at scrape time.
 */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  // prom-client's default Node.js series are left out: three of them are gauges named *_total,
  // which promtool's lint refuses, and node_exporter already watches the process.
  const requestLabels = [
    'service',
    'mode',
    'status',
    ...(options.labelUsers ? ['user'] : []),
    ...(options.labelRepos ? ['repo'] : []),
  ];
  const requests = new Counter({
    name: 'gitward_requests_total',
    help:
      'Requests answered, by service (git service, api, healthz, metrics, sidecar), mode and HTTP status' +
      ' (0: no answer sent).',
    labelNames: requestLabels,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'gitward_request_duration_seconds',
    help: 'Time from the request to its audit line, by service.',
    labelNames: ['service'],
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  const backendDuration = new Histogram({
    name: 'gitward_backend_duration_seconds',
    help: 'Time git-http-backend ran for a request, by git service.',
    labelNames: ['service'],
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  const bytesIn = new Counter({
    name: 'gitward_request_bytes_total',
    help: 'Request body bytes received, by service.',
    labelNames: ['service'],
    registers: [registry],
  });
  const bytesOut = new Counter({
    name: 'gitward_response_bytes_total',
    help: 'Response body bytes sent, by service.',
    labelNames: ['service'],
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'gitward_auth_failures_total',
    help: 'Requests whose credentials the identity chain rejected.',
    registers: [registry],
  });
  const throttled = new Counter({
    name: 'gitward_auth_throttled_total',
    help: 'Requests refused with 429 because their client address had too many failed logins.',
    registers: [registry],
  });
  new Gauge({
    name: 'gitward_auth_throttled_addresses',
    help: 'Client addresses refused with 429 right now (too many failed logins in the brute-force window).',
    registers: [registry],
    collect() {
      this.set(options.runtime.throttledAddresses?.() ?? 0);
    },
  });
  let running = 0;
  new Gauge({
    name: 'gitward_backend_processes',
    help: 'git-http-backend runs in progress.',
    registers: [registry],
    collect() {
      this.set(running);
    },
  });
  // The runtime counts its reloads; the counter is brought to its numbers at each scrape.
  const reloads: Counter<string> = new Counter({
    name: 'gitward_config_reloads_total',
    help: 'Config reloads since start, by result (ok: the new config is in force; failed: the last good one stays).',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const counts = options.runtime.reloadCounts?.() ?? { ok: 0, failed: 0 };
      reloads.reset();
      reloads.inc({ result: 'ok' }, counts.ok);
      reloads.inc({ result: 'failed' }, counts.failed);
    },
  });
  new Gauge({
    name: 'gitward_config_age_seconds',
    help: 'Seconds since the config in force was loaded.',
    registers: [registry],
    collect() {
      this.set(Math.max(0, (options.now() - options.runtime.current().loadedAt) / 1000));
    },
  });
  new Gauge({
    name: 'gitward_config_last_reload_ok',
    help:
      '1 when the config file is the one in force, 0 while the last reload failed (the previous config' +
      ' still runs).',
    registers: [registry],
    collect() {
      this.set(options.runtime.lastFailure() === null ? 1 : 0);
    },
  });
  const refusals = new Counter({
    name: 'gitward_hook_refusals_total',
    help: 'Ref updates refused (or failed) by a pre-receive hook plugin, by plugin, for pushes through gitward.',
    labelNames: ['plugin'],
    registers: [registry],
  });
  const seenPlugins = new Set<string>();

  return {
    registry,
    observe(record, audit) {
      const service = record.service ?? audit.route;
      const labels: Record<string, string> = { service, mode: record.mode, status: String(record.status) };
      if (options.labelUsers) labels.user = record.user ?? '';
      if (options.labelRepos) labels.repo = record.repo ?? '';
      requests.inc(labels);
      duration.observe({ service }, record.durationMs / 1000);
      if (audit.backendMs !== null) backendDuration.observe({ service }, audit.backendMs / 1000);
      if (record.bytesIn > 0) bytesIn.inc({ service }, record.bytesIn);
      if (record.bytesOut > 0) bytesOut.inc({ service }, record.bytesOut);
      if (audit.authOutcome === 'rejected') authFailures.inc();
      else if (audit.authOutcome === 'throttled') throttled.inc();
      for (const plugin of audit.hookRefusals) {
        if (!seenPlugins.has(plugin) && seenPlugins.size < MAX_PLUGIN_LABELS) seenPlugins.add(plugin);
        refusals.inc({ plugin: seenPlugins.has(plugin) ? plugin : OTHER });
      }
    },
    backendStarted() {
      running++;
      let done = false;
      return () => {
        if (!done) running--;
        done = true;
      };
    },
    async render() {
      return { body: await registry.metrics(), contentType: registry.contentType };
    },
  };
}

/**
 * Whether the direct peer may read /metrics under `allow` (metrics.allow). `local`: a local direct
 * peer (isLocalDirectPeer: the unix socket, or loopback with no forwarding header; a request nginx
 * passed on is not local, whatever its peer). Other entries are trusted-proxy entries (`unix`, IPs,
 * CIDR ranges), matched by the one trusted-proxy matcher against the peer alone: forwarded
 * addresses are never consulted, who connected is what counts.
 */
export function metricsPeerAllowed(allow: readonly string[], peer: Peer, headers: IncomingHttpHeaders): boolean {
  if (allow.includes('local') && isLocalDirectPeer(peer, headers)) return true;
  return compileTrustedProxies(allow.filter((e) => e !== 'local')).trusts(peer);
}
