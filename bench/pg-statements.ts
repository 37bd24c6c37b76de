/**
 * What PostgreSQL spent its time on during one load (--profile cluster): pg_stat_statements, reset before the load
 * and read after it, per database (Temporal's `temporal` and `temporal_visibility`, FerretDB's `janela`) and the
 * statements that cost most. The statements are FerretDB's and Temporal's SQL, so this is where a scan or a
 * missing index shows.
 */
import { postgresQuery } from '../scripts/cluster-services';

export interface StatementCost {
  database: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
  query: string;
}

export interface PostgresLoadCost {
  byDatabase: { database: string; calls: number; totalMs: number }[];
  top: StatementCost[];
}

export function resetStatements(port: number): void {
  postgresQuery(
    port,
    'postgres',
    'CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset();',
  );
}

/**
 * After a preload, before the measured run: what a million inserts leave PostgreSQL to do (autovacuum of the new
 * rows, their statistics, a checkpoint of the dirty pages) is done now, so that it does not run during the load.
 */
export function settleAfterPreload(port: number, database: string): void {
  postgresQuery(port, database, 'VACUUM (ANALYZE)');
  postgresQuery(port, 'postgres', 'CHECKPOINT');
}

const number = (text: string | undefined) => Number(text ?? 0);

export function readStatements(port: number, limit = 12): PostgresLoadCost {
  const byDatabase = postgresQuery(
    port,
    'postgres',
    `SELECT d.datname, sum(s.calls), round(sum(s.total_exec_time)::numeric, 1)
       FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
      GROUP BY d.datname ORDER BY 3 DESC`,
  )
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [database, calls, totalMs] = line.split('|');
      return { database: database ?? '', calls: number(calls), totalMs: number(totalMs) };
    });
  const top = postgresQuery(
    port,
    'postgres',
    `SELECT d.datname, s.calls, round(s.total_exec_time::numeric, 1), round(s.mean_exec_time::numeric, 3), s.rows,
            left(regexp_replace(s.query, '\\s+', ' ', 'g'), 200)
       FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
      ORDER BY s.total_exec_time DESC LIMIT ${limit}`,
  )
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [database, calls, totalMs, meanMs, rows, ...query] = line.split('|');
      return {
        database: database ?? '',
        calls: number(calls),
        totalMs: number(totalMs),
        meanMs: number(meanMs),
        rows: number(rows),
        query: query.join('|'),
      };
    });
  return { byDatabase, top };
}

export function statementsTable(cost: PostgresLoadCost): string {
  const lines = [
    `PostgreSQL during the load: ${cost.byDatabase.map((d) => `${d.database} ${d.totalMs} ms in ${d.calls} calls`).join('; ')}`,
    '| database | calls | total ms | mean ms | rows | statement |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const s of cost.top)
    lines.push(
      `| ${s.database} | ${s.calls} | ${s.totalMs} | ${s.meanMs} | ${s.rows} | \`${s.query.replaceAll('|', '\\|')}\` |`,
    );
  return lines.join('\n');
}
