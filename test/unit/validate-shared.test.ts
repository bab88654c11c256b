/**
 * The checks every layer shares (core/validate.ts): label names, lone surrogates, Redis URLs and
 * how a value is shown in a message — and the places that use them agreeing on each.
 */
import { describe, expect, it } from 'vitest';
import { decodeMeta } from '../../src/core/family.js';
import { describeValue, hasLoneSurrogate, isLabelName, isRedisUrl } from '../../src/core/validate.js';
import { LAYOUT_VERSION } from '../../src/core/version.js';
import { renderExemplarLabels } from '../../src/metrics/exemplar.js';
import { Counter, Registry } from '../../src/index.js';
import { localRegistry } from './local.js';

const GOOD_NAMES = ['a', '_', 'A_1', 'route', '__x'];
const BAD_NAMES = ['', '1a', 'a-b', 'a.b', 'é', 'a b', 'a:b'];

describe('label names', () => {
  it.each(GOOD_NAMES)('accepts %j', (name) => expect(isLabelName(name)).toBe(true));
  it.each(BAD_NAMES)('refuses %j', (name) => expect(isLabelName(name)).toBe(false));

  it.each(BAD_NAMES.filter((n) => n !== ''))(
    'refuses %j alike in metric labels, exemplar labels and stored metadata',
    (name) => {
      const { registry } = localRegistry();
      expect(() => new Counter({ name: 'c', help: 'h', labelNames: [name], registry })).toThrow(
        /invalid label name/,
      );
      expect(() => renderExemplarLabels('c', { traceId: 't', [name]: 'v' })).toThrow(
        /invalid exemplar label name/,
      );
      const meta = { v: LAYOUT_VERSION, name: 'c', kind: 'counter', help: 'h', labelNames: [name] };
      expect(() => decodeMeta('c', `x\n${JSON.stringify(meta)}`)).toThrow(/labelNames/);
    },
  );
});

describe('lone surrogates', () => {
  it.each(['\uD800', 'a\uDC00', '\uDBFFx', 'ok\uD83D', '\uDE00\uD83D'])('finds one in %j', (s) => {
    expect(hasLoneSurrogate(s)).toBe(true);
    expect(() => renderExemplarLabels('c', { traceId: s })).toThrow(/well-formed/);
  });
  it.each(['', 'abc', '\uD83D\uDE00', 'a\uD83D\uDE00b'])('finds none in %j', (s) => {
    expect(hasLoneSurrogate(s)).toBe(false);
  });
});

describe('Redis URLs', () => {
  it.each(['redis://localhost', 'rediss://u:p@h:6380/2'])('accepts %j', (url) => {
    expect(isRedisUrl(url)).toBe(true);
  });
  it.each(['', 'http://localhost', 'localhost:6379', 'redis:/x', ' redis://h'])('refuses %j', (url) => {
    expect(isRedisUrl(url)).toBe(false);
    expect(() => new Registry({ redis: url, selfMetrics: false })).toThrow(/redis:\/\/ or rediss:\/\/ URL/);
  });
});

describe('values in messages', () => {
  it.each([
    ['x', '"x"'],
    [1.5, '1.5'],
    [true, 'true'],
    [undefined, 'undefined'],
    [null, 'null'],
    [10n, '10n'],
    [Symbol('s'), 'Symbol(s)'],
    [[], 'an array'],
    [{}, 'an object'],
    [(): void => {}, 'a function'],
  ])('shows %s as %s', (value, shown) => {
    expect(describeValue(value)).toBe(shown);
  });

  it('shows a label value the same way as any other value', () => {
    const { registry } = localRegistry();
    const c = new Counter({ name: 'c', help: 'h', labelNames: ['code'], registry });
    expect(() => c.inc({ code: ((): void => {}) as unknown as string })).toThrow(
      'Metric "c" label "code" must be a string or number, got a function',
    );
  });
});
