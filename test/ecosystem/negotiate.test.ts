/** Content negotiation: which exposition format an `Accept` header gets. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { negotiateFormat } from '../../src/index.js';

describe('negotiateFormat', () => {
  it('gives text format 0.0.4 when there is no preference for OpenMetrics', () => {
    for (const header of [
      undefined,
      '',
      '*/*',
      'text/plain',
      'text/plain;version=0.0.4',
      'application/json',
      'application/*',
    ]) {
      expect(negotiateFormat(header), String(header)).toBe('text');
    }
  });

  it('gives OpenMetrics for the header Prometheus sends when it prefers OpenMetrics', () => {
    expect(
      negotiateFormat(
        'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,' +
          'text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      ),
    ).toBe('openmetrics');
    expect(
      negotiateFormat(
        'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,' +
          'text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
      ),
    ).toBe('openmetrics');
    expect(negotiateFormat('application/openmetrics-text')).toBe('openmetrics');
  });

  it('gives text when text/plain is preferred (scrape_protocols with the text format first)', () => {
    expect(
      negotiateFormat('text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4'),
    ).toBe('text');
    expect(negotiateFormat('application/openmetrics-text;q=0.3,text/*;q=0.9')).toBe('text');
  });

  it('gives OpenMetrics on a tie with text/plain', () => {
    expect(negotiateFormat('application/openmetrics-text;q=0.5,text/plain;q=0.5')).toBe('openmetrics');
    expect(negotiateFormat('application/openmetrics-text;q=0.5,*/*;q=0.5')).toBe('openmetrics');
  });

  it('weighs text/plain by its most specific range', () => {
    // text/plain;q=0.1 overrides */*;q=1 for text/plain.
    expect(negotiateFormat('application/openmetrics-text;q=0.5,*/*;q=1,text/plain;q=0.1')).toBe(
      'openmetrics',
    );
  });

  it('never gives OpenMetrics with q=0, another version, or a malformed weight', () => {
    expect(negotiateFormat('application/openmetrics-text;q=0,text/plain;q=0.1')).toBe('text');
    expect(negotiateFormat('application/openmetrics-text;q=0')).toBe('text');
    expect(negotiateFormat('application/openmetrics-text;version=0.0.1')).toBe('text');
    expect(negotiateFormat('application/openmetrics-text;version=2.0.0;q=1,text/plain;q=0.1')).toBe('text');
    expect(negotiateFormat('application/openmetrics-text;q=abc')).toBe('text');
    expect(negotiateFormat('application/openmetrics-text;q=1.5')).toBe('text');
  });

  it('ignores case, whitespace and quoted parameter values', () => {
    expect(
      negotiateFormat(' Application/OpenMetrics-Text ; Version="1.0.0" ; Q=0.8 , text/plain ; q=0.2 '),
    ).toBe('openmetrics');
  });

  it('is total: any header gives one of the two formats without throwing', () => {
    const piece = fc.constantFrom(
      'application/openmetrics-text',
      'text/plain',
      '*/*',
      'text/*',
      ';q=',
      ';version=1.0.0',
      ';',
      ',',
      '=',
      '"',
      ' ',
      '0.5',
      '1',
      '0',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(piece).map((p) => p.join('')),
        ),
        (header) => {
          expect(['text', 'openmetrics']).toContain(negotiateFormat(header));
        },
      ),
    );
  });
});
