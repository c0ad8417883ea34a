// The results table: one row per figure, bootstation next to its peers, the ratio and the issue's target.
import type { Figure } from './lib.ts';

/** A target from issue 9 and whether this run met it. */
export interface Target {
  text: string;
  pass: boolean;
}

/** One figure of one scenario, measured on bootstation and (usually) on peers. */
export interface Row {
  scenario: string;
  metric: string;
  unit: string;
  /** Throughput-like figures (MB/s, answers/s); false for times and latencies. */
  higherIsBetter: boolean;
  bootstation: Figure;
  peers: Record<string, Figure>;
  target?: Target;
  /** Context for the row, e.g. failures or refused transfers. */
  note?: string;
}

/** bootstation's median over the peer's, turned so that > 1 always means bootstation is better. */
export function advantage(row: Row, peer: string): number | undefined {
  const other = row.peers[peer];
  if (!other || other.median === 0 || row.bootstation.median === 0) return undefined;
  return row.higherIsBetter ? row.bootstation.median / other.median : other.median / row.bootstation.median;
}

function number(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  return abs >= 100 ? value.toFixed(0) : abs >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function cell(value: Figure): string {
  return value.min === value.max ? number(value.median) : `${number(value.median)} (${number(value.min)}–${number(value.max)})`;
}

/** The table as Markdown: median (min–max) per figure, the advantage over each peer, the target and PASS/MISS. */
export function renderTable(rows: readonly Row[]): string {
  const lines = [
    '| scenario | figure | bootstation | peers | bootstation vs peer (> 1: bootstation better) | target | result |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    const peers = Object.entries(row.peers).map(([name, value]) => `${name} ${cell(value)}`).join('; ') || '—';
    const ratios = Object.keys(row.peers)
      .map((name) => {
        const ratio = advantage(row, name);
        return ratio === undefined ? undefined : `${ratio.toFixed(2)}× ${name}`;
      })
      .filter((text) => text !== undefined)
      .join('; ') || '—';
    const result = row.target ? (row.target.pass ? 'PASS' : '**MISS**') : '';
    const metric = `${row.metric} [${row.unit}]${row.note ? ` — ${row.note}` : ''}`;
    lines.push(`| ${row.scenario} | ${metric} | ${cell(row.bootstation)} | ${peers} | ${ratios} | ${row.target?.text ?? ''} | ${result} |`);
  }
  return lines.join('\n');
}
