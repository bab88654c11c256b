/**
 * A hand-written SVG: ns per call of each hot-path call, this library beside prom-client, as
 * horizontal bars on a logarithmic axis (the two differ by up to two orders of magnitude).
 */
import type { ChartBar } from './group.js';

const WIDTH = 900;
const LABEL_W = 270;
const BAR_H = 14;
const ROW_H = 42;
const TOP = 56;
const RIGHT = 80;
const LIB_COLOR = '#2b7bb9';
const PEER_COLOR = '#c0504d';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function label(ns: number): string {
  return ns >= 100 ? `${Math.round(ns)} ns` : `${ns.toPrecision(3)} ns`;
}

export function hotChart(bars: readonly ChartBar[], subtitle: string): string {
  const values = bars.flatMap((b) => [b.lib, b.peer]).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values, 1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, 10)));
  const plotW = WIDTH - LABEL_W - RIGHT;
  const x = (ns: number): number =>
    ((Math.log10(Math.max(ns, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  const height = TOP + bars.length * ROW_H + 52;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="22" font-size="15" font-weight="bold">Hot path: ns per call (median, log scale) — lower is better</text>`,
    `<text x="16" y="40" fill="#555">${escapeXml(subtitle)}</text>`,
  ];
  for (let decade = lo; decade <= hi; decade *= 10) {
    const gx = LABEL_W + x(decade);
    out.push(`<line x1="${gx}" y1="${TOP - 6}" x2="${gx}" y2="${TOP + bars.length * ROW_H}" stroke="#ddd"/>`);
    out.push(
      `<text x="${gx}" y="${TOP + bars.length * ROW_H + 16}" text-anchor="middle" fill="#555">${label(decade)}</text>`,
    );
  }
  bars.forEach((bar, i) => {
    const y = TOP + i * ROW_H;
    out.push(
      `<text x="${LABEL_W - 8}" y="${y + BAR_H + 4}" text-anchor="end">${escapeXml(bar.label)}</text>`,
    );
    for (const [j, value, color] of [
      [0, bar.lib, LIB_COLOR],
      [1, bar.peer, PEER_COLOR],
    ] as const) {
      const by = y + j * (BAR_H + 2);
      const w = Math.max(1, x(value));
      out.push(`<rect x="${LABEL_W}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${color}"/>`);
      out.push(
        `<text x="${(LABEL_W + w + 4).toFixed(1)}" y="${by + BAR_H - 3}" fill="#333">${label(value)}</text>`,
      );
    }
  });
  const ly = height - 10;
  out.push(`<rect x="${LABEL_W}" y="${ly - 10}" width="12" height="12" fill="${LIB_COLOR}"/>`);
  out.push(`<text x="${LABEL_W + 18}" y="${ly}">prometheus-redis-client</text>`);
  out.push(`<rect x="${LABEL_W + 190}" y="${ly - 10}" width="12" height="12" fill="${PEER_COLOR}"/>`);
  out.push(`<text x="${LABEL_W + 208}" y="${ly}">prom-client 15</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
