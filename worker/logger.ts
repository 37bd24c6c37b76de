import {
  DefaultLogger,
  type LogEntry,
  type LogLevel,
  type MetricsExporterConfig,
  makeTelemetryFilterString,
  Runtime,
} from '@temporalio/worker';
import { logSettings } from '../common/config';
import { log } from '../common/log';

const levels: Record<LogLevel, 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'debug',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The Temporal SDK's logs (worker, workflows' `log`, activity failures, and core's own lines, forwarded) as
 * Janela's JSON lines: one format, and the same redaction of webhook secrets as every other line.
 */
export function temporalLogger(quietest?: LogLevel): DefaultLogger {
  const settings = logSettings();
  const configured = (quietest ?? settings.level).toUpperCase();
  // With a capture file (the test suite's secret scan) the SDK's info lines are kept too: nothing escapes the scan.
  const level: LogLevel = settings.captureFile ? 'INFO' : configured in levels ? (configured as LogLevel) : 'INFO';
  return new DefaultLogger(level, (entry: LogEntry) => {
    const meta = Object.fromEntries(
      Object.entries(entry.meta ?? {}).map(([key, value]) => [
        key,
        value instanceof Error ? (value.stack ?? String(value)) : value,
      ]),
    );
    log[levels[entry.level]](entry.message, { source: 'temporal', ...meta });
  });
}

/** Seconds a ticket waits for an agent: from a moment to an hour. */
const TEAM_WAIT_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600];

/** The team dispatchers' histograms (workflows/team-dispatcher.ts) get buckets in seconds. */
function withTeamBuckets(metrics: MetricsExporterConfig): MetricsExporterConfig {
  if (!('prometheus' in metrics)) return metrics;
  return {
    ...metrics,
    prometheus: {
      ...metrics.prometheus,
      histogramBucketOverrides: {
        janela_team_waiting_seconds: TEAM_WAIT_BUCKETS,
        janela_team_time_to_assign_seconds: TEAM_WAIT_BUCKETS,
        ...metrics.prometheus.histogramBucketOverrides,
      },
    },
  };
}

/**
 * Installs the Temporal runtime once per process: every Temporal log line, core's included (forwarded), goes
 * through `temporalLogger`; `metrics` optionally exports the SDK's metrics for Prometheus.
 */
export function installTemporalRuntime(metrics?: MetricsExporterConfig, quietest?: LogLevel): void {
  Runtime.install({
    logger: temporalLogger(quietest),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }), forward: {} },
      ...(metrics ? { metrics: withTeamBuckets(metrics) } : {}),
    },
  });
}
